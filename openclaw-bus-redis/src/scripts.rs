//! The Lua scripts the limiter and the bus run in Redis.
//!
//! The limiter's Both read the time from Redis (`TIME`, in
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

/// Publishes one event. `KEYS[1]` the deployment's stream, `KEYS[2]` its epoch, `KEYS[3]` the
/// topic's channel; `ARGV[1]` the stream id (`<sequence>-0`), `ARGV[2]` the stream's length
/// bound, `ARGV[3]` the event as a JSON object.
///
/// A stream that does not exist (first publish, or Redis lost it) gets a new epoch: Redis's
/// `TIME` in microseconds. The message is the event's JSON with `"epoch"` first. It is
/// appended to the stream under its sequence (trimmed to about `ARGV[2]` entries) and
/// published on the channel. An id at or below the stream's newest is not appended: if that
/// very id is there, the event is a duplicate and is not published again; otherwise it is a
/// late publish (another replica's newer event got there first), published on the channel but
/// left out of the stream, whose readers find it in the store's log. Returns
/// `{epoch, "added" | "late" | "duplicate"}`.
pub(crate) fn publish() -> Script {
    Script::new(
        r#"
local epoch = redis.call('GET', KEYS[2])
if (not epoch) or redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', KEYS[2], epoch)
end
local message = '{"epoch":"' .. epoch .. '",' .. string.sub(ARGV[3], 2)
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[1], 'event', message)
if type(added) == 'table' and added.err then
  if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) > 0 then
    return {epoch, 'duplicate'}
  end
  redis.call('PUBLISH', KEYS[3], message)
  return {epoch, 'late'}
end
redis.call('PUBLISH', KEYS[3], message)
return {epoch, 'added'}
"#,
    )
}

/// Reads the stream: `KEYS[1]` the stream, `KEYS[2]` its epoch; `ARGV[1]` the first id,
/// `ARGV[2]` how many entries at most. Returns the epoch (`""` when none) followed by the
/// messages of the entries, in stream order.
pub(crate) fn read_stream() -> Script {
    Script::new(
        r"
local out = {redis.call('GET', KEYS[2]) or ''}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])) do
  out[#out + 1] = entry[2][2]
end
return out
",
    )
}
