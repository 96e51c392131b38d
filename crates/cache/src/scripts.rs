//! The Lua scripts of L2. Each runs as one atomic step in Redis.
//!
//! Physical layout of one logical key `k` under the prefix `P`:
//! - `P k`: the value, exactly the bytes the caller stored (a JSON document), with `PX` = its
//!   TTL. It is absent while `k` is tombstoned.
//! - `P k \x1f`: its meta, `<epoch>:<kind>:<version>` with the same TTL: the namespace epoch
//!   current when it was written, `V` (value) or `T` (tombstone, 60 s, value deleted), and the
//!   writer's version (empty when unknown).
//! - `P epoch`: the namespace epoch (an integer, no TTL; missing reads as 0). It only grows
//!   (see [`BUMP_EPOCH`]); `clear` deletes it with everything else under the prefix.
//!
//! A value counts only if its meta exists, is of kind `V` and carries the current epoch: so one
//! `INCR` of the epoch hides every older value at once, a meta evicted or deleted alone turns the
//! value into a miss, and a value written without a meta (by hand) is never served.
//! `\x1f` cannot occur in a logical key (docs/http-contract.md#request-bodies-and-field-rules rejects control characters), so a meta key can
//! never collide with a value key, and `SCAN MATCH P<pattern>` finds a value and, for patterns
//! ending in `*`, its meta.

use redis::Script;

/// The suffix of a meta key.
pub const META_SUFFIX: &str = "\x1f";

/// KEYS: epoch, value, meta. Returns `{kind, epoch, pttl, version, value}`: kind `V` (hit; pttl
/// of the value), `M` (miss) or `T` (tombstone; pttl of the tombstone).
pub const READ: &str = r#"
local e = redis.call('GET', KEYS[1]) or '0'
local m = redis.call('GET', KEYS[3])
if not m then return {'M', e, -2, '', ''} end
local me, kind, ver = string.match(m, '^(%d+):(%a):(.*)$')
if me ~= e then return {'M', e, -2, '', ''} end
if kind == 'T' then return {'T', e, redis.call('PTTL', KEYS[3]), '', ''} end
local v = redis.call('GET', KEYS[2])
if not v then return {'M', e, -2, '', ''} end
return {'V', e, redis.call('PTTL', KEYS[2]), ver, v}
"#;

/// Read fill (SET NX semantics). KEYS: epoch, value, meta. ARGV: expected epoch, value, ttl ms,
/// version (or empty). Returns `S` stored, `E` a current value exists, `T` tombstoned,
/// `X` the epoch changed since the fill's read.
pub const FILL: &str = r#"
local e = redis.call('GET', KEYS[1]) or '0'
if e ~= ARGV[1] then return 'X' end
local m = redis.call('GET', KEYS[3])
if m then
  local me, kind = string.match(m, '^(%d+):(%a):')
  if me == e then
    if kind == 'T' then return 'T' end
    if redis.call('EXISTS', KEYS[2]) == 1 then return 'E' end
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[3], e .. ':V:' .. ARGV[4], 'PX', ARGV[3])
return 'S'
"#;

/// Writer set with version guard. KEYS: epoch, value, meta. ARGV: value, ttl ms, version,
/// channel, message. Keeps a current value of an equal or higher version, never replaces a
/// current tombstone, and publishes the invalidation in every case. Returns `S` stored,
/// `K` kept the newer value, `T` tombstoned.
pub const SET_VERSIONED: &str = r#"
local e = redis.call('GET', KEYS[1]) or '0'
local m = redis.call('GET', KEYS[3])
local r = 'S'
if m then
  local me, kind, ver = string.match(m, '^(%d+):(%a):(.*)$')
  if me == e then
    if kind == 'T' then
      r = 'T'
    elseif ver ~= '' and redis.call('EXISTS', KEYS[2]) == 1 and tonumber(ver) >= tonumber(ARGV[3]) then
      r = 'K'
    end
  end
end
if r == 'S' then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[3], e .. ':V:' .. ARGV[3], 'PX', ARGV[2])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return r
"#;

/// Unconditional set (warm-up jobs). KEYS: epoch, value, meta. ARGV: value, ttl ms, channel,
/// message.
pub const SET_PLAIN: &str = r#"
local e = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], e .. ':V:', 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"#;

/// Tombstones. KEYS: epoch, then value and meta of each key. ARGV: tombstone ttl ms, channel,
/// message. Deletes each value, writes a tombstone meta, then publishes once.
pub const TOMBSTONE: &str = r#"
local e = redis.call('GET', KEYS[1]) or '0'
for i = 2, #KEYS, 2 do
  redis.call('UNLINK', KEYS[i])
  redis.call('SET', KEYS[i + 1], e .. ':T:', 'PX', ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"#;

/// Bumps the namespace epoch. KEYS: epoch. An `INCRBY` to max(current + 1, Redis time in µs),
/// so the epoch only grows and never takes a value again, even after `clear` deleted the key
/// (a value written under an old epoch must never become current again). Returns the new epoch.
pub const BUMP_EPOCH: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if not cur then
  redis.call('SET', KEYS[1], string.format('%d', now))
  return now
end
local delta = now - cur
if delta < 1 then delta = 1 end
return redis.call('INCRBY', KEYS[1], string.format('%d', delta))
"#;

pub(crate) struct Scripts {
    pub read: Script,
    pub fill: Script,
    pub set_versioned: Script,
    pub set_plain: Script,
    pub tombstone: Script,
    pub bump_epoch: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            read: Script::new(READ),
            fill: Script::new(FILL),
            set_versioned: Script::new(SET_VERSIONED),
            set_plain: Script::new(SET_PLAIN),
            tombstone: Script::new(TOMBSTONE),
            bump_epoch: Script::new(BUMP_EPOCH),
        }
    }
}
