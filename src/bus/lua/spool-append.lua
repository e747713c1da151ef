-- spool-append: adds a batch of stream entries exactly once (the spool's replay and direct path).
-- KEYS[1]  the stream
-- KEYS[2]  the writer's ack key (string: highest sequence number already added)
-- ARGV[1]  TTL of the ack key, seconds
-- ARGV[2]  trim strategy: '' (none), 'MAXLEN' or 'MINID' (approximate, '~')
-- ARGV[3]  trim threshold (ignored when ARGV[2] is '')
-- ARGV[4]  number of entries n; then per entry: its sequence number, its field count k, and k field/value pairs.
-- Entries whose sequence number is <= the ack are skipped: they were added before (a lost reply,
-- a crash during replay). Sequence numbers of one writer only grow. Returns {added, skipped, ack}.
local acked = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[4])
local i = 5
local added, skipped = 0, 0
local top = acked
for _ = 1, n do
  local seq = tonumber(ARGV[i])
  local k = tonumber(ARGV[i + 1])
  i = i + 2
  if seq > acked then
    local args = { KEYS[1] }
    if ARGV[2] ~= '' then
      args[#args + 1] = ARGV[2]
      args[#args + 1] = '~'
      args[#args + 1] = ARGV[3]
    end
    args[#args + 1] = '*'
    for j = 0, 2 * k - 1 do
      args[#args + 1] = ARGV[i + j]
    end
    redis.call('XADD', unpack(args))
    added = added + 1
    if seq > top then top = seq end
  else
    skipped = skipped + 1
  end
  i = i + 2 * k
end
if added > 0 then
  redis.call('SET', KEYS[2], string.format('%d', top), 'EX', ARGV[1])
end
return { added, skipped, string.format('%d', top) }
