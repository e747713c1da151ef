-- lease-renew: extends a lease only if this process still holds it.
-- KEYS[1]  the lease key, e.g. lease:identity-cleanup
-- ARGV[1]  the holder's name (its instance)
-- ARGV[2]  the new lease time, milliseconds
-- Returns 1 when renewed, 0 when another process holds it (or nobody does).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
