//! [`RedisStore`]: the shared token cache on Redis or Valkey (feature `redis`).
//!
//! Each operation is one command or one Lua script, so it is atomic on the server: the lease is
//! `SET lease owner NX PX ttl`; release and write are compare-and-act scripts that check the lease
//! owner (and, for a write, the generation) before they touch anything. A value is `<generation> `
//! followed by the sealed bytes, stored with `PX` set to the token's remaining life, and a read reports
//! the key's `PTTL` — the server's clock, the same for every replica — so no replica's wall clock is
//! ever consulted. Keys carry a `{hash tag}`, so a token and its lease live in one Redis Cluster slot.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};

use super::store::{StoreError, Stored, TokenStore, WriteIf};
use crate::error::Error;
use crate::provider::BoxFuture;

/// The connect and response timeout [`RedisStore::open`] configures (the provider bounds every call
/// by its own store timeout as well).
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(200);

const READ: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return {0} end
if t ~= 'string' then return {1, '0'} end
local g = string.match(redis.call('GETRANGE', KEYS[1], 0, 24), '^(%d+) ')
if not g then return {1, '0'} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then return {1, g} end
local v = redis.call('GET', KEYS[1])
return {2, ttl, g, string.sub(v, #g + 2)}
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

const WRITE: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local current = 0
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local g = string.match(redis.call('GETRANGE', KEYS[1], 0, 24), '^(%d+) ')
  if g then current = tonumber(g) end
end
if current ~= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1
";

/// A [`TokenStore`] on Redis (or Valkey), over a `redis` [`ConnectionManager`], which reconnects by
/// itself after the server went away. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    read: Script,
    release: Script,
    write: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

/// A failed call, described by its kind only: the server's text is not copied into the message.
fn store_error(e: redis::RedisError) -> StoreError {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection lost".to_owned()
    } else {
        format!("{:?}", e.kind())
    };
    StoreError::new(format!("redis: {what}"))
}

impl RedisStore {
    /// A store over a connection manager you configured.
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            read: Script::new(READ),
            release: Script::new(RELEASE),
            write: Script::new(WRITE),
        }
    }

    /// A store for `url` (`redis://host:port/db`, `rediss://` for TLS), connecting lazily: it returns
    /// at once, even while the server is down, and connects (and reconnects) in the background with
    /// [`DEFAULT_REDIS_TIMEOUT`] for connecting and for each reply.
    ///
    /// Needs a Tokio runtime.
    pub fn open(url: &str) -> Result<Self, Error> {
        let client =
            redis::Client::open(url).map_err(|_| Error::config("the Redis URL is not valid"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEFAULT_REDIS_TIMEOUT))
            .set_response_timeout(Some(DEFAULT_REDIS_TIMEOUT))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|_| Error::config("the Redis connection manager could not be created"))?;
        Ok(Self::new(conn))
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// A decimal number sent as a string (the script's generations).
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::BulkString(g) => std::str::from_utf8(g).ok()?.parse().ok(),
        _ => None,
    }
}

fn parse_read(v: Value) -> Result<Stored, StoreError> {
    let unexpected = || StoreError::new("redis: unexpected reply to the read script");
    let Value::Array(items) = v else {
        return Err(unexpected());
    };
    match items.first().and_then(int) {
        Some(0) => Ok(Stored::Missing),
        Some(1) => Ok(Stored::Foreign {
            generation: items.get(1).and_then(number).unwrap_or(0),
        }),
        Some(2) => {
            let [_, ttl, generation, bytes] =
                <[Value; 4]>::try_from(items).map_err(|_| unexpected())?;
            let ttl = int(&ttl)
                .and_then(|t| u64::try_from(t).ok())
                .ok_or_else(unexpected)?;
            let (Some(generation), Value::BulkString(bytes)) = (number(&generation), bytes) else {
                return Err(unexpected());
            };
            Ok(Stored::Value {
                generation,
                bytes,
                ttl: Duration::from_millis(ttl),
            })
        }
        _ => Err(unexpected()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl TokenStore for RedisStore {
    fn read<'a>(
        &'a self,
        key: &'a str,
        max_len: usize,
    ) -> BoxFuture<'a, Result<Stored, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let reply: Value = self
                .read
                .key(key)
                .arg(max_len)
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            parse_read(reply)
        })
    }

    fn try_lease<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let reply: Option<String> = redis::cmd("SET")
                .arg(lease_key)
                .arg(owner)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut conn)
                .await
                .map_err(store_error)?;
            Ok(reply.is_some())
        })
    }

    fn release<'a>(
        &'a self,
        lease_key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let n: i64 = self
                .release
                .key(lease_key)
                .arg(owner)
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            Ok(n == 1)
        })
    }

    fn write<'a>(&'a self, w: WriteIf<'a>) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            if w.generation <= w.expected {
                return Ok(false);
            }
            let mut value = format!("{} ", w.generation).into_bytes();
            value.extend_from_slice(w.bytes);
            let mut conn = self.conn.clone();
            let n: i64 = self
                .write
                .key(w.key)
                .key(w.lease_key)
                .arg(w.owner)
                .arg(w.expected)
                .arg(value)
                .arg(millis(w.ttl))
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            Ok(n == 1)
        })
    }
}
