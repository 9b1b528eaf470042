// The staff dashboard's countdown to the session's expiry, ticking once a second. Every
// element with data-expires (an ISO 8601 time) shows the time left as "4h 05m 09s".
(function () {
  "use strict";

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function render(element) {
    var expires = Date.parse(element.getAttribute("data-expires"));
    if (isNaN(expires)) {
      return;
    }
    var left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
    if (left === 0) {
      element.textContent = "expired";
      element.classList.add("expired");
      return;
    }
    var hours = Math.floor(left / 3600);
    var minutes = Math.floor((left % 3600) / 60);
    element.textContent = hours + "h " + pad(minutes) + "m " + pad(left % 60) + "s";
  }

  function tick() {
    document.querySelectorAll("[data-expires]").forEach(render);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
  });
})();
