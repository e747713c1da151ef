-- spool-append: adds a batch of stream entries exactly once (the spool's replay and direct path).
-- KEYS[1]  the stream
-- KEYS[2]  the writer's ack key (string: highest sequence number already added)
-- ARGV[1]  TTL of the ack key, seconds
-- ARGV[2]  trim strategy: '' (none), 'MAXLEN' or 'MINID' (approximate, '~')
-- ARGV[3]  trim threshold (ignored when ARGV[2] is '')
-- ARGV[4]  number of entries n; then per entry: its sequence number, its stream id ('*' for a new one,
--          or the id an earlier primary gave it), its field count k, and k field/value pairs.
-- Entries whose sequence number is <= the ack are skipped: they were added before (a lost reply,
-- a crash during replay). Sequence numbers of one writer only grow. An entry replayed with the id
-- an earlier primary gave it (a failover lost it before a replica had it) keeps that id when it
-- is still above the stream's last id, so a reader that saw it there recognises it; else it gets
-- a new id and is counted as reassigned.
-- Returns {added, skipped, ack, reassigned, ids}: ids has one item per entry, its stream id or '' when skipped.
local acked = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[4])
local i = 5
local added, skipped, reassigned = 0, 0, 0
local top = acked
local ids = {}
for _ = 1, n do
  local seq = tonumber(ARGV[i])
  local id = ARGV[i + 1]
  local k = tonumber(ARGV[i + 2])
  i = i + 3
  if seq > acked then
    local args = { KEYS[1] }
    if ARGV[2] ~= '' then
      args[#args + 1] = ARGV[2]
      args[#args + 1] = '~'
      args[#args + 1] = ARGV[3]
    end
    local at = #args + 1
    args[at] = id
    for j = 0, 2 * k - 1 do
      args[#args + 1] = ARGV[i + j]
    end
    local res
    if id ~= '*' then
      res = redis.pcall('XADD', unpack(args))
      if type(res) == 'table' and res.err then
        args[at] = '*'
        res = redis.call('XADD', unpack(args))
        reassigned = reassigned + 1
      end
    else
      res = redis.call('XADD', unpack(args))
    end
    ids[#ids + 1] = res
    added = added + 1
    if seq > top then top = seq end
  else
    ids[#ids + 1] = ''
    skipped = skipped + 1
  end
  i = i + 2 * k
end
-- written even when everything was skipped, so a WAIT after this call covers what the ack stands for
if top > 0 then
  redis.call('SET', KEYS[2], string.format('%d', top), 'EX', ARGV[1])
end
return { added, skipped, string.format('%d', top), reassigned, ids }
