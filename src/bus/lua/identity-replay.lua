-- identity-replay: applies one identity record written to the fallback files while Redis was away.
-- KEYS[1]  identity:{scope}:{id}
-- ARGV[1]  'write' (replace the record) or 'touch' (merge, as identity-touch does)
-- ARGV[2]  JSON object: for 'write' the record; for 'touch' the fields the callers touched
-- ARGV[3]  TTL left, milliseconds
-- ARGV[4]  first_seen of the file record (ISO-8601 UTC)
-- ARGV[5]  last_seen of the file record (ISO-8601 UTC)
-- ARGV[6]  seen_count of the file record (touches made while Redis was away)
-- 'touch' keeps the earlier first_seen, the later last_seen (and the stored fields when
-- Redis already has a newer last_seen) and adds the counts. Returns 1.
local patch = cjson.decode(ARGV[2])
if ARGV[1] == 'write' then
  redis.call('SET', KEYS[1], cjson.encode(patch), 'PX', tonumber(ARGV[3]))
  return 1
end
local old = redis.call('GET', KEYS[1])
local obj = {}
if old then
  local ok, dec = pcall(cjson.decode, old)
  if ok and type(dec) == 'table' then obj = dec end
end
local newer = obj['last_seen'] == nil or tostring(obj['last_seen']) <= ARGV[5]
if newer then
  for k, v in pairs(patch) do
    obj[k] = v
  end
  obj['last_seen'] = ARGV[5]
end
if obj['first_seen'] == nil or tostring(obj['first_seen']) > ARGV[4] then obj['first_seen'] = ARGV[4] end
obj['seen_count'] = (tonumber(obj['seen_count']) or 0) + (tonumber(ARGV[6]) or 1)
local ttl = redis.call('PTTL', KEYS[1])
local px = tonumber(ARGV[3])
if ttl > px then px = ttl end
redis.call('SET', KEYS[1], cjson.encode(obj), 'PX', px)
return 1
