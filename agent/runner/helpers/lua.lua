-- The bai-runner's Lua REPL helper: reads "X <length>\n<code>" commands on
-- fd 3, loads and runs each in the global environment (so globals persist)
-- and reports "F <exit code>\n" on fd 4. The standalone interpreter turns a
-- SIGINT into an "interrupted!" error, which the protected call catches.
io.stdout:setvbuf("no")
io.stderr:setvbuf("no")
local ctl = assert(io.open("/proc/self/fd/3", "rb"))
local rec = assert(io.open("/proc/self/fd/4", "wb"))
rec:setvbuf("full")

-- print, io.write and writes to io.stdout/io.stderr become tagged records on
-- fd 4, "O <len>\n<bytes>" / "E <len>\n<bytes>", so the runner sees them in
-- the order they were written. io.stdout and io.stderr become proxies that
-- forward everything else to the real files.
local real_out, real_err = io.stdout, io.stderr
local function send(tag, s)
  if #s == 0 then return end
  rec:write(tag, " ", #s, "\n", s)
  rec:flush()
end
local function tostr(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) == "number" then return string.format("%.14g", v) end
  if type(v) ~= "string" then error("bad argument to 'write' (string expected, got " .. type(v) .. ")", 3) end
  return v
end
local function proxy(tag, real)
  local p = {}
  function p:write(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = tostr((select(i, ...))) end
    send(tag, table.concat(t))
    return self
  end
  function p:flush() return self end
  function p:setvbuf() return true end
  function p:close() return real:close() end
  function p:seek(...) return real:seek(...) end
  function p:lines(...) return real:lines(...) end
  function p:read(...) return real:read(...) end
  return setmetatable(p, { __name = "FILE*", __tostring = function() return tostring(real) end })
end
local out_proxy, err_proxy = proxy("O", real_out), proxy("E", real_err)
io.stdout, io.stderr = out_proxy, err_proxy
local real_output, real_type, real_write = io.output, io.type, io.write
function io.output(f)
  if f == out_proxy then f = real_out elseif f == err_proxy then f = real_err end
  local r = real_output(f)
  if r == real_out then return out_proxy elseif r == real_err then return err_proxy end
  return r
end
function io.type(f)
  if f == out_proxy or f == err_proxy then return "file" end
  return real_type(f)
end
function io.write(...)
  local o = real_output()
  if o == real_out then return out_proxy:write(...) end
  if o == real_err then return err_proxy:write(...) end
  return real_write(...)
end
function print(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  send("O", table.concat(t, "\t") .. "\n")
end

local cell = 0
while true do
  local line = ctl:read("l")
  if not line then os.exit(0) end
  local kind, len = line:match("^(%S+) (%d+)")
  len = tonumber(len) or 0
  local code = ""
  if len > 0 then
    code = ctl:read(len)
    if not code then os.exit(0) end
  end
  if kind == "X" then
    cell = cell + 1
    local status = 0
    local name = "=<cell " .. cell .. ">"
    local fn, err = load("return " .. code, name, "t")
    local show = fn ~= nil
    if not fn then fn, err = load(code, name, "t") end
    if not fn then
      io.stderr:write(tostring(err), "\n")
      status = 1
    else
      local res = table.pack(xpcall(fn, debug.traceback))
      if not res[1] then
        local msg = tostring(res[2])
        if msg:find("interrupted!", 1, true) then
          io.stderr:write("Interrupted\n")
          status = 130
        else
          io.stderr:write(msg, "\n")
          status = 1
        end
      elseif show and res.n > 1 then
        local out = {}
        for i = 2, res.n do out[#out + 1] = tostring(res[i]) end
        io.stdout:write(table.concat(out, "\t"), "\n")
      end
    end
    io.stdout:flush()
    io.stderr:flush()
    rec:write("F " .. status .. "\n")
    rec:flush()
  end
end
