-- Every request asks for a historical range that shares no candle with any other, so neither
-- the proxy's cache nor its candle store can answer and each request is one upstream call.
-- Arguments after "--": <first index> <stride> <stocks, comma list> <trading days, comma list>
--                       [X-Proxy-Key value]
-- Request n of thread t gets index first + t * stride + n; the index → (stock, day, minute)
-- mapping is the same as bench/workload.py's history_window(), so the direct-SDK run can use
-- disjoint indices of the same shape.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local threads_started = 0
function setup(thread)
   thread:set("tid", threads_started)
   threads_started = threads_started + 1
end

local function split(text)
   local out = {}
   for item in string.gmatch(text, "[^,]+") do out[#out + 1] = item end
   return out
end

local first, stocks, days, counter
local headers = { ["Content-Type"] = "application/json" }
local WINDOWS = 72  -- 5-minute windows a day: 09:15-09:19 .. 15:15-15:19

function init(args)
   first = tonumber(args[1]) + tid * tonumber(args[2])
   stocks = split(args[3])
   days = split(args[4])
   if args[5] and args[5] ~= "" then headers["X-Proxy-Key"] = args[5] end
   counter = 0
end

local function hhmm(minutes)
   return string.format("%02d:%02d:00", 9 + math.floor((15 + minutes) / 60), (15 + minutes) % 60)
end

function request()
   local idx = first + counter
   counter = counter + 1
   local stock = stocks[(idx % #stocks) + 1]
   local rest = math.floor(idx / #stocks)
   local minute = (rest % WINDOWS) * 5
   local day = days[(math.floor(rest / WINDOWS) % #days) + 1]
   local body = string.format(
      '{"stock_code":"%s","exchange_code":"NSE","interval":"1minute",' ..
      '"from_date":"%sT%s","to_date":"%sT%s"}',
      stock, day, hhmm(minute), day, hhmm(minute + 4))
   return wrk.format("POST", nil, headers, body)
end

done = report
