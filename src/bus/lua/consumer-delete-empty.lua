-- consumer-delete-empty.lua: remove a consumer from a group only when nothing is pending for it.
--
-- XGROUP DELCONSUMER drops the consumer's pending entries with it. Checking
-- XPENDING first from the client leaves a gap: a worker restarted under the
-- same name (`worker-<host>-<instance>`) may read entries in between, which
-- would then never be delivered again. Here the check and the removal are one
-- step: a consumer that holds anything is left alone (its entries are claimed
-- first, or it is alive again).
--
-- KEYS[1]  the stream
-- ARGV[1]  the consumer group
-- ARGV[2]  the consumer
-- Returns  1 when the consumer was removed (or did not exist), 0 when entries are pending for it.

local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
