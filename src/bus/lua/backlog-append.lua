-- backlog-append.lua: append messages to a backlog stream once each, however many processes append them.
--
-- Every gateway receives every back-channel message (PSUBSCRIBE) and appends
-- it to the user's backlog; the first append adds the entry, the others find
-- it and get the same id, so the backlog holds each message once and every
-- gateway hands its relays the same id (a relay resumes on any gateway).
-- KEYS[2] records, per message key, the id of its entry: the score is
-- ms * 2048 + seq of the id (exact in a double until the year 2109); an entry
-- whose seq is 2048 or more (over 2048 appends to one backlog in one ms) is
-- appended without a record. Both keys are trimmed to the window and expire
-- after it, like the backlog alone did. Messages are appended in ARGV order.
--
-- KEYS[1]  the backlog stream (`user:<id>:backlog`), entries with fields `kind` and `m`
-- KEYS[2]  its record (`user:<id>:backlog:seen`), a sorted set
-- ARGV[1]  the window's start, unix ms: older entries and records are trimmed (XADD MINID ~)
-- ARGV[2]  the window, ms (PEXPIRE of both keys)
-- ARGV[3…] triples: message key (the same for one message in every process), kind, payload
-- Returns  pairs: id, 1 when appended now or 0 when it was there already — one pair per message.

local function fmt(x)
  return string.format('%.0f', x)
end

local minid = ARGV[1] .. '-0'
local out = {}
for i = 3, #ARGV, 3 do
  local key = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[2], key)
  if score then
    local s = tonumber(score)
    local ms = math.floor(s / 2048)
    out[#out + 1] = fmt(ms) .. '-' .. fmt(s - ms * 2048)
    out[#out + 1] = 0
  else
    local id = redis.call('XADD', KEYS[1], 'MINID', '~', minid, '*', 'kind', ARGV[i + 1], 'm', ARGV[i + 2])
    local dash = string.find(id, '-', 1, true)
    local ms = tonumber(string.sub(id, 1, dash - 1))
    local seq = tonumber(string.sub(id, dash + 1))
    if seq < 2048 then
      redis.call('ZADD', KEYS[2], fmt(ms * 2048 + seq), key)
    end
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. fmt(tonumber(ARGV[1]) * 2048))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return out
