"""Names people type for indices, mapped to the exchange symbol the SecurityMaster lists.

The master knows ``NIFTY 50`` (Breeze code ``NIFTY``) and ``NIFTY BANK`` (``CNXBAN``); traders
say NIFTY, BANKNIFTY, FINNIFTY. ``NIFTY`` needs no alias (it is Breeze's code already).
"""

INDEX_ALIASES: dict[str, str] = {
    "NIFTY50": "NIFTY 50",
    "BANKNIFTY": "NIFTY BANK",
    "NIFTYBANK": "NIFTY BANK",
    "FINNIFTY": "NIFTY FIN SERVICE",
    "NIFTYFIN": "NIFTY FIN SERVICE",
    "MIDCPNIFTY": "NIFTY MID SELECT",
    "NIFTYNXT50": "NIFTY NEXT 50",
    "SENSEX30": "SENSEX",
    "BSE SENSEX": "SENSEX",
}
