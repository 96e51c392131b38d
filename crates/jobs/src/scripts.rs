//! The atomic queue operations of docs/jobs.md#redis-structures, each one Lua script (run with `EVALSHA`, loaded on
//! `NOSCRIPT` by `redis::Script`), plus `release` for graceful shutdown.
//!
//! # Editing job documents in Lua without re-encoding them
//! The scripts change only top-level members of a job document (`attempts`, `worker_id`,
//! `lease_expires_at`, `last_error`, `process_at`, `failed_at`). Decoding with `cjson` and
//! encoding again would alter the payload: `cjson` turns `[]` into `{}` and keeps 14 significant
//! digits of numbers. So [`PRELUDE`] splits the top-level object into `(name, raw value)` pairs
//! with a small scanner (strings, escapes and nesting are honoured; `string.find` skips the
//! bytes in between) and joins them back: every value the script does not change, the payload
//! included, is copied byte for byte. Only whitespace between top-level members is dropped.
//!
//! Values passed in `ARGV` for these members are JSON text (a quoted string, a number).

/// Helpers shared by every script: `decode`, `field`, `put`, `drop`, `encode`, `number`,
/// `ready_score`.
pub(crate) const PRELUDE: &str = r#"
local function ws(s, i) return string.find(s, '[^ \t\r\n]', i) end
local function str_end(s, i)
  local j = i + 1
  while true do
    local k = string.find(s, '["\\]', j)
    if not k then return nil end
    if string.byte(s, k) == 92 then j = k + 2 else return k end
  end
end
local function value_end(s, i)
  local c = string.byte(s, i)
  if c == 34 then return str_end(s, i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while true do
      local k = string.find(s, '[{}%[%]"]', j)
      if not k then return nil end
      local b = string.byte(s, k)
      if b == 34 then
        k = str_end(s, k)
        if not k then return nil end
      elseif b == 123 or b == 91 then
        depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then return k end
      end
      j = k + 1
    end
  end
  local k = string.find(s, '[,}%]%s]', i)
  if not k or k == i then return nil end
  return k - 1
end
local function decode(s)
  local i = ws(s, 1)
  if not i or string.byte(s, i) ~= 123 then return nil end
  local doc = {}
  i = ws(s, i + 1)
  if not i then return nil end
  if string.byte(s, i) == 125 then return doc end
  while true do
    if string.byte(s, i) ~= 34 then return nil end
    local ke = str_end(s, i)
    if not ke then return nil end
    local c = ws(s, ke + 1)
    if not c or string.byte(s, c) ~= 58 then return nil end
    local vs = ws(s, c + 1)
    if not vs then return nil end
    local ve = value_end(s, vs)
    if not ve then return nil end
    doc[#doc + 1] = {string.sub(s, i + 1, ke - 1), string.sub(s, vs, ve)}
    i = ws(s, ve + 1)
    if not i then return nil end
    local b = string.byte(s, i)
    if b == 125 then return doc end
    if b ~= 44 then return nil end
    i = ws(s, i + 1)
    if not i then return nil end
  end
end
local function field(doc, name)
  for _, f in ipairs(doc) do
    if f[1] == name then return f[2] end
  end
  return nil
end
local function put(doc, name, raw)
  for _, f in ipairs(doc) do
    if f[1] == name then
      f[2] = raw
      return
    end
  end
  doc[#doc + 1] = {name, raw}
end
local function drop(doc, name)
  for i = #doc, 1, -1 do
    if doc[i][1] == name then table.remove(doc, i) end
  end
end
local function encode(doc)
  local parts = {}
  for i, f in ipairs(doc) do parts[i] = '"' .. f[1] .. '":' .. f[2] end
  return '{' .. table.concat(parts, ',') .. '}'
end
local function number(doc, name, default)
  local n = tonumber(field(doc, name) or '')
  if n == nil then return default end
  return n
end
local function ready_score(doc, ready_at)
  local p = math.floor(number(doc, 'priority', 5))
  if p < 1 then p = 5 end
  if p > 10 then p = 10 end
  return string.format('%.0f', p * 10000000000000 + ready_at)
end
"#;

/// promote. KEYS: delayed, ready. ARGV: now ms, limit. Moves up to `limit` due members from
/// delayed to ready, verbatim, scored `priority × 10^13 + process_at ms`. Returns the count.
pub(crate) const PROMOTE: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local moved = 0
for i = 1, #due, 2 do
  local member = due[i]
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ready_score(decode(member) or {}, tonumber(due[i + 1])), member)
  moved = moved + 1
end
return moved
"#;

/// claim. KEYS: ready, processing. ARGV: worker id (JSON), lease expiry (JSON timestamp), lease
/// expiry ms. `ZPOPMIN` ready, `attempts + 1`, sets `worker_id` and `lease_expires_at`, adds the
/// claimed document to processing scored by the lease expiry. Returns `nil` (empty),
/// `{'claimed', document}`, or `{'invalid', member}` for a member that is not a JSON object
/// (removed from the queue).
pub(crate) const CLAIM: &str = r#"
local popped = redis.call('ZPOPMIN', KEYS[1])
if #popped == 0 then return false end
local member = popped[1]
local doc = decode(member)
if not doc then return {'invalid', member} end
put(doc, 'attempts', string.format('%d', math.floor(number(doc, 'attempts', 0)) + 1))
put(doc, 'worker_id', ARGV[1])
put(doc, 'lease_expires_at', ARGV[2])
local claimed = encode(doc)
redis.call('ZADD', KEYS[2], ARGV[3], claimed)
return {'claimed', claimed}
"#;

/// ack. KEYS: processing. ARGV: the claimed document. Returns 1, or 0 when the lease is no longer
/// this worker's (reaped, reclaimed or renewed by someone else): then nothing happens.
pub(crate) const ACK: &str = r#"
return redis.call('ZREM', KEYS[1], ARGV[1])
"#;

// RETRY and RELEASE open alike on purpose (see the doc below): each is one atomic script, so the
// lease check is written out in both.
/// The lease-ending scripts (retry, release) share their opening on purpose: each must be one
/// atomic script, so "drop the lease if it is still ours" cannot be a separate call.
///
/// retry. KEYS: processing, delayed, dlq. ARGV: the claimed document, mode (`delay` or `dead`),
/// delayed score, `process_at` (JSON), `last_error` (JSON), `failed_at` (JSON), DLQ max length.
/// Removes the lease and either adds the job to delayed (new `process_at`) or pushes it to the
/// DLQ (with `failed_at`, trimmed), with `last_error` in both cases and without the lease
/// members. Returns 1, or 0 (no-op) when the lease is no longer this worker's.
pub(crate) const RETRY: &str = r#"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local doc = decode(ARGV[1])
if not doc then return 0 end
drop(doc, 'worker_id')
drop(doc, 'lease_expires_at')
put(doc, 'last_error', ARGV[5])
if ARGV[2] == 'delay' then
  put(doc, 'process_at', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[3], encode(doc))
else
  put(doc, 'failed_at', ARGV[6])
  redis.call('LPUSH', KEYS[3], encode(doc))
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[7]) - 1)
end
return 1
"#;

/// renew. KEYS: processing. ARGV: the claimed document, new expiry ms, new `lease_expires_at`
/// (JSON). Replaces the member with one carrying the new expiry, scored by it, and returns the
/// new document; `nil` when the lease is no longer this worker's.
pub(crate) const RENEW: &str = r#"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return false end
local doc = decode(ARGV[1])
if not doc then return false end
put(doc, 'lease_expires_at', ARGV[3])
local renewed = encode(doc)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], renewed)
return renewed
"#;

/// reap. KEYS: processing, ready, dlq. ARGV: now ms, `failed_at` (JSON), DLQ max length, limit,
/// default `max_tries`. Every lease expired at `now` goes back to ready (lease members removed,
/// scored `priority × 10^13 + now`), or to the DLQ with `last_error: "lease expired"` when
/// `attempts ≥ max_tries`. Members that are not JSON objects are discarded. Returns
/// `{requeued, discarded, {type of each dead-lettered job (JSON)}}`.
pub(crate) const REAP: &str = r#"
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local requeued, discarded, dead = 0, 0, {}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local doc = decode(member)
  if not doc then
    discarded = discarded + 1
  else
    drop(doc, 'worker_id')
    drop(doc, 'lease_expires_at')
    if number(doc, 'attempts', 0) >= number(doc, 'max_tries', tonumber(ARGV[5])) then
      put(doc, 'last_error', '"lease expired"')
      put(doc, 'failed_at', ARGV[2])
      redis.call('LPUSH', KEYS[3], encode(doc))
      dead[#dead + 1] = field(doc, 'type') or '""'
    else
      redis.call('ZADD', KEYS[2], ready_score(doc, tonumber(ARGV[1])), encode(doc))
      requeued = requeued + 1
    end
  end
end
if #dead > 0 then redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1) end
return {requeued, discarded, dead}
"#;

// Opens like RETRY above, on purpose: dropping the lease must be in the same atomic script (see
// RETRY's doc).
/// release (graceful shutdown, docs/operations.md#graceful-shutdown the job stop). KEYS: processing, ready. ARGV: the claimed
/// document, now ms. Hands an interrupted job back: removes the lease, gives back the attempt
/// it had started (`attempts - 1`, not below 0) and adds it to ready. Returns 1, or 0 when the
/// lease is no longer this worker's.
pub(crate) const RELEASE: &str = r#"
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local doc = decode(ARGV[1])
if not doc then return 0 end
drop(doc, 'worker_id')
drop(doc, 'lease_expires_at')
local a = math.floor(number(doc, 'attempts', 0)) - 1
if a < 0 then a = 0 end
put(doc, 'attempts', string.format('%d', a))
redis.call('ZADD', KEYS[2], ready_score(doc, tonumber(ARGV[2])), encode(doc))
return 1
"#;

/// The compiled scripts.
pub(crate) struct Scripts {
    pub promote: redis::Script,
    pub claim: redis::Script,
    pub ack: redis::Script,
    pub retry: redis::Script,
    pub renew: redis::Script,
    pub reap: redis::Script,
    pub release: redis::Script,
}

use taskify_cache::redis;

impl Scripts {
    pub fn new() -> Self {
        let with_prelude = |body: &str| redis::Script::new(&format!("{PRELUDE}\n{body}"));
        Self {
            promote: with_prelude(PROMOTE),
            claim: with_prelude(CLAIM),
            ack: redis::Script::new(ACK),
            retry: with_prelude(RETRY),
            renew: with_prelude(RENEW),
            reap: with_prelude(REAP),
            release: with_prelude(RELEASE),
        }
    }
}
