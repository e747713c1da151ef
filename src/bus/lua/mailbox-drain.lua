-- mailbox-drain: takes every queued admin message at once.
-- KEYS[1]  the queue list admin:queue:{instance}
-- Returns the messages, oldest first, and deletes the list in the same step, so a message is
-- either returned here or still in the list for a pub/sub receiver's LREM — never both.
local m = redis.call('LRANGE', KEYS[1], 0, -1)
if #m > 0 then
  redis.call('DEL', KEYS[1])
end
return m
