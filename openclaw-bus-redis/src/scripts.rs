//! The Lua scripts the limiter runs in Redis. Both read the time from Redis (`TIME`, in
//! microseconds) and keep one hash per budget: `tat`, the theoretical arrival time of GCRA
//! (when the budget would be full again), and `paused`, before which nothing is granted.
//! Numbers cross the boundary as strings: Lua numbers become integers on the way out, and
//! `string.format('%.0f', …)` keeps microsecond timestamps exact where `tostring` would not.

use redis::Script;

/// Takes `ARGV[1]` permits if the budget allows, with `ARGV[2]` microseconds per permit and
/// `ARGV[3]` the tolerance (capacity × interval). Returns `{"1", "0"}` when granted, or
/// `{"0", wait}`: microseconds until the permits could be there.
pub(crate) fn take() -> Script {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'paused')
local tat = tonumber(state[1] or now)
local paused = tonumber(state[2] or 0)
local cost = tonumber(ARGV[1]) * tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
if tat < now then tat = now end
local next = tat + cost
local ready = next - tolerance
if paused > now or ready > now then
  local wait = math.max(ready, paused) - now
  if wait < 1 then wait = 1 end
  return {'0', string.format('%.0f', wait)}
end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', next))
local keep = math.max(next, paused) - now
redis.call('PEXPIRE', KEYS[1], math.floor(keep / 1000) + 1000)
return {'1', '0'}
",
    )
}

/// Corrects the budget from a provider's answer, only ever downwards: `ARGV[1]` remaining
/// permits (or -1), `ARGV[2]` a `Retry-After` in microseconds (or -1), `ARGV[3]` the time
/// until a windowed limit resets when nothing remains (or -1), `ARGV[4]` the interval,
/// `ARGV[5]` the tolerance, `ARGV[6]` the capacity. Returns `"1"`.
pub(crate) fn observe() -> Script {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'paused')
local tat = tonumber(state[1] or now)
local paused = tonumber(state[2] or 0)
local remaining = tonumber(ARGV[1])
local retry = tonumber(ARGV[2])
local reset = tonumber(ARGV[3])
local interval = tonumber(ARGV[4])
local tolerance = tonumber(ARGV[5])
local capacity = tonumber(ARGV[6])
local booked = nil
if remaining >= 0 then
  booked = now + math.max(capacity - remaining, 0) * interval
end
if retry >= 0 then
  booked = now + tolerance
  paused = math.max(paused, now + retry)
end
if remaining == 0 and reset >= 0 then
  paused = math.max(paused, now + reset)
end
if booked ~= nil and booked > tat then tat = booked end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'paused', string.format('%.0f', paused))
local keep = math.max(tat, paused) - now
redis.call('PEXPIRE', KEYS[1], math.floor(math.max(keep, 0) / 1000) + 1000)
return '1'
",
    )
}
