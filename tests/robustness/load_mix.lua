-- Mixed load for tests/robustness/test_load.py: every request picks a body at random from a
-- file the test writes (one "<weight-group>\t<path>\t<json body>" line each), and every
-- response is counted by status and error code (or X-Cache for 200s).
-- Arguments after "--": <bodies file> [X-Proxy-Key value]
-- done() prints one "LOAD_JSON {...}" line: wrk's own counters and latency percentiles (us),
-- the requests sent per group, the answers per "status code", and the first 5xx body seen.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

-- Globals, not locals: done() reads them from each thread with thread:get().
groups, names, sent, answers, first_5xx = nil, nil, nil, nil, nil

function init(args)
   groups, names = {}, {}
   for line in io.lines(args[1]) do
      local group, path, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      if not groups[group] then
         groups[group] = {}
         names[#names + 1] = group
      end
      local list = groups[group]
      list[#list + 1] = { path = path, body = body }
   end
   table.sort(names)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if args[2] and args[2] ~= "" then
      wrk.headers["X-Proxy-Key"] = args[2]
   end
   math.randomseed(os.time() + tid * 7919)
   sent, answers, first_5xx = {}, {}, ""
end

function request()
   local group = names[math.random(#names)]
   local list = groups[group]
   local item = list[math.random(#list)]
   sent[group] = (sent[group] or 0) + 1
   return wrk.format(nil, item.path, nil, item.body)
end

function response(status, headers, body)
   local label
   if status == 200 then
      label = "200 " .. (headers["X-Cache"] or headers["x-cache"] or "-")
   else
      label = status .. " " .. ((body or ""):match('"code"%s*:%s*"([^"]*)"') or "-")
   end
   answers[label] = (answers[label] or 0) + 1
   if status >= 500 and first_5xx == "" then
      first_5xx = status .. " " .. (body or ""):sub(1, 300)
   end
end

local function jstr(text)
   local clean = tostring(text):gsub("[%c]", " "):gsub("\\", "\\\\"):gsub('"', '\\"')
   return '"' .. clean .. '"'
end

local function json_counts(tables, key)
   local total = {}
   for _, t in ipairs(tables) do
      for name, count in pairs(t:get(key) or {}) do
         total[name] = (total[name] or 0) + count
      end
   end
   local parts = {}
   for name, count in pairs(total) do
      parts[#parts + 1] = jstr(name) .. ":" .. count
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local sample = ""
   for _, t in ipairs(threads) do
      local seen = t:get("first_5xx")
      if seen and seen ~= "" then sample = seen break end
   end
   local e = summary.errors
   io.write(string.format(
      'LOAD_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
      '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"sent":%s,"answers":%s,"first_5xx":%s}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      json_counts(threads, "sent"), json_counts(threads, "answers"), jstr(sample)))
end
