-- POST one fixed JSON body on every request (the cached-quote path and the floor app).
-- Arguments after "--": <json body> [X-Proxy-Key value]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

function init(args)
   wrk.method = "POST"
   wrk.body = args[1]
   wrk.headers["Content-Type"] = "application/json"
   if args[2] and args[2] ~= "" then
      wrk.headers["X-Proxy-Key"] = args[2]
   end
end

done = report
