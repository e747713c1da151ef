-- lease-release: gives a lease up only if this process holds it.
-- KEYS[1]  the lease key
-- ARGV[1]  the holder's name
-- Returns 1 when released, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
