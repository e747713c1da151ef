-- dead-letter.lua: move stream entries to a dead-letter stream, atomically.
--
-- For each entry: copy its fields to KEYS[2] with `reason`, `source_id` and
-- `deliveries` added, then XACK it in the group, so an entry is never both
-- dead-lettered and pending (nor lost between the two). An entry that was
-- trimmed from the source meanwhile is still acked and recorded (no fields).
--
-- KEYS[1]  source stream
-- KEYS[2]  dead-letter stream (`<stream>:dead`)
-- ARGV[1]  consumer group
-- ARGV[2]  approximate MAXLEN of the dead-letter stream (0 = no trimming)
-- ARGV[3…] triples: entry id, reason, delivery count
-- Returns  the number of entries moved.

local moved = 0
local maxlen = tonumber(ARGV[2])
for i = 3, #ARGV, 3 do
  local id, reason, deliveries = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local args = { 'XADD', KEYS[2] }
  if maxlen > 0 then
    table.insert(args, 'MAXLEN')
    table.insert(args, '~')
    table.insert(args, maxlen)
  end
  table.insert(args, '*')
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if found[1] then
    local fields = found[1][2]
    for j = 1, #fields do
      table.insert(args, fields[j])
    end
  end
  table.insert(args, 'reason')
  table.insert(args, reason)
  table.insert(args, 'source_id')
  table.insert(args, id)
  table.insert(args, 'deliveries')
  table.insert(args, deliveries)
  redis.call(unpack(args))
  redis.call('XACK', KEYS[1], ARGV[1], id)
  moved = moved + 1
end
return moved
