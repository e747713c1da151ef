-- identity-touch: merges fields into an identity record and refreshes its TTL.
-- KEYS[1]  identity:{scope}:{id}
-- ARGV[1]  JSON object of fields to set (top level; other stored fields are kept)
-- ARGV[2]  TTL, seconds
-- ARGV[3]  now, ISO-8601 UTC (last_seen; first_seen when the record is new)
-- Also counts seen_count. Returns the previous JSON text, or false when there was none.
local old = redis.call('GET', KEYS[1])
local obj = {}
if old then
  local ok, dec = pcall(cjson.decode, old)
  if ok and type(dec) == 'table' then obj = dec end
end
local patch = cjson.decode(ARGV[1])
for k, v in pairs(patch) do
  obj[k] = v
end
if obj['first_seen'] == nil then obj['first_seen'] = ARGV[3] end
obj['last_seen'] = ARGV[3]
obj['seen_count'] = (tonumber(obj['seen_count']) or 0) + 1
redis.call('SET', KEYS[1], cjson.encode(obj), 'EX', tonumber(ARGV[2]))
return old or false
