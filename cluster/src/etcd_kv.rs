//! A small client of etcd's v3 JSON gRPC-gateway (`/v3/...` over HTTP).
//!
//! Pure Rust on `reqwest`: no protoc, no gRPC stack. Keys and values travel base64-encoded in
//! JSON, int64 fields as JSON strings. Only the operations the naming backends need are here:
//! leases, a create-if-absent transaction, a compare-value delete, reads, and a prefix watch.
//!
//! The client holds several endpoints (cluster members) and fails over to the next one on a
//! connection error, a timeout, or a gateway answer that says the member is unavailable.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Everything that can go wrong talking to (or starting) etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint could be reached (connection refused, timeout, member unavailable).
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
    /// The gateway answered with an error status (gRPC code and message where it gave them).
    #[error("etcd http status {status} (grpc code {code}): {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// gRPC status code from the gateway's error body (`-1` if absent).
        code: i64,
        /// The gateway's error message.
        message: String,
    },
    /// The answer could not be understood (bad JSON, bad base64, missing field).
    #[error("etcd answer not understood: {0}")]
    Decode(String),
    /// The client was given no endpoints.
    #[error("no etcd endpoints given")]
    NoEndpoints,
    /// No etcd binary was found (set `NAMING_BENCH_ETCD` or put `etcd` on `PATH`).
    #[error("etcd binary not found (set NAMING_BENCH_ETCD or install etcd)")]
    NoBinary,
    /// A local I/O error while starting or managing etcd processes.
    #[error("etcd process i/o ({context}): {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A cluster configuration that cannot be started (e.g. member hosts not one per member).
    #[error("etcd configuration: {0}")]
    Config(String),
    /// A started cluster did not become healthy before the deadline.
    #[error("etcd cluster not ready after {waited:?} (member {member} failing: {last_error}); member stderr tail:\n{stderr_tail}")]
    NotReady {
        /// How long it waited.
        waited: Duration,
        /// The first member that was still failing.
        member: usize,
        /// The last error seen on that member.
        last_error: String,
        /// The last lines of that member's stderr.
        stderr_tail: String,
    },
}

impl EtcdError {
    /// True when the gateway said the lease given in a request does not exist (expired or revoked).
    pub fn is_lease_not_found(&self) -> bool {
        matches!(self, EtcdError::Http { message, .. } if message.contains("lease not found"))
    }
}

/// One key-value pair as read from etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Revision of the last modification of this key.
    pub mod_revision: i64,
    /// The lease the key is attached to (`0`: none).
    pub lease: i64,
}

/// Outcome of [`EtcdKv::create_if_absent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The key did not exist and now holds our value; `revision` is the write's revision.
    Created {
        /// Revision of the put.
        revision: i64,
    },
    /// The key already existed; nothing was written. Carries the current holder's entry.
    Existing(KeyValue),
}

/// One change seen by [`EtcdKv::watch_prefix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created or overwritten.
    Put {
        /// The key.
        key: Vec<u8>,
        /// Its new value.
        value: Vec<u8>,
        /// Revision of the change.
        revision: i64,
    },
    /// A key was deleted (explicitly or by its lease expiring).
    Delete {
        /// The key.
        key: Vec<u8>,
        /// Revision of the deletion.
        revision: i64,
    },
    /// The requested start revision was compacted away; the watch has ended. The consumer
    /// must reload with a range and start a new watch (events were missed).
    Compacted {
        /// The compaction revision the server reported.
        compact_revision: i64,
    },
}

/// Client of etcd's JSON gateway over several endpoints. Cheap to clone (shared state).
#[derive(Clone)]
pub struct EtcdKv {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Vec<String>,
    /// The endpoint that answered last; requests start there.
    current: AtomicUsize,
    timeout: Duration,
}

impl std::fmt::Debug for EtcdKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdKv")
            .field("endpoints", &self.inner.endpoints)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

/// gRPC code the gateway uses when a member cannot serve (no leader, stopping, ...).
const GRPC_UNAVAILABLE: i64 = 14;

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>, EtcdError> {
    B64.decode(s)
        .map_err(|e| EtcdError::Decode(format!("bad base64 {s:?}: {e}")))
}

/// The smallest key greater than every key starting with `prefix` (etcd's `range_end`).
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Empty or all-0xff prefix: "\0" means "every key from `key` on".
    vec![0]
}

/// int64 fields come as JSON strings; accept numbers too, absent means 0.
fn de_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        S(String),
        I(i64),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(0),
        Some(N::I(i)) => Ok(i),
        Some(N::S(s)) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize, Default)]
struct Header {
    #[serde(default, deserialize_with = "de_i64")]
    revision: i64,
}

#[derive(Deserialize)]
struct RawKv {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default, deserialize_with = "de_i64")]
    mod_revision: i64,
    #[serde(default, deserialize_with = "de_i64")]
    lease: i64,
}

impl RawKv {
    fn decode(&self) -> Result<KeyValue, EtcdError> {
        Ok(KeyValue {
            key: unb64(&self.key)?,
            value: unb64(&self.value)?,
            mod_revision: self.mod_revision,
            lease: self.lease,
        })
    }
}

#[derive(Deserialize, Default)]
struct RangeResp {
    #[serde(default)]
    header: Header,
    #[serde(default)]
    kvs: Vec<RawKv>,
}

#[derive(Deserialize, Default)]
struct ResponseOp {
    #[serde(default)]
    response_range: Option<RangeResp>,
}

#[derive(Deserialize)]
struct TxnResp {
    #[serde(default)]
    header: Header,
    #[serde(default)]
    succeeded: bool,
    #[serde(default)]
    responses: Vec<ResponseOp>,
}

#[derive(Deserialize)]
struct LeaseGrantResp {
    #[serde(rename = "ID", default, deserialize_with = "de_i64")]
    id: i64,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize, Default)]
struct KeepAliveResult {
    #[serde(rename = "TTL", default, deserialize_with = "de_i64")]
    ttl: i64,
}

#[derive(Deserialize)]
struct StreamLine<T> {
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
struct GatewayError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: String,
    #[serde(default = "minus_one")]
    code: i64,
}

fn minus_one() -> i64 {
    -1
}

#[derive(Deserialize, Default)]
struct WatchResp {
    #[serde(default)]
    canceled: bool,
    #[serde(default, deserialize_with = "de_i64")]
    compact_revision: i64,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type", default)]
    kind: String,
    kv: Option<RawKv>,
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, EtcdError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        EtcdError::Decode(format!("{e}: {shown}"))
    })
}

impl EtcdKv {
    /// A client over `endpoints` (`"http://ip:port"`), each request limited to `timeout`.
    pub fn new(endpoints: Vec<String>, timeout: Duration) -> Result<Self, EtcdError> {
        if endpoints.is_empty() {
            return Err(EtcdError::NoEndpoints);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| EtcdError::Unavailable(format!("http client: {e}")))?;
        let endpoints = endpoints
            .into_iter()
            .map(|e| e.trim_end_matches('/').to_string())
            .collect();
        Ok(EtcdKv {
            inner: Arc::new(Inner {
                http,
                endpoints,
                current: AtomicUsize::new(0),
                timeout,
            }),
        })
    }

    /// The endpoints this client uses.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// POST `body` to `path`, trying each endpoint once starting from the last good one.
    /// Returns the raw body of the first successful answer.
    async fn post(&self, path: &str, body: &Value) -> Result<Vec<u8>, EtcdError> {
        let inner = &self.inner;
        let n = inner.endpoints.len();
        let start = inner.current.load(Ordering::Relaxed);
        let mut last = String::new();
        for k in 0..n {
            let i = (start + k) % n;
            let url = format!("{}{}", inner.endpoints[i], path);
            let sent = inner
                .http
                .post(&url)
                .json(body)
                .timeout(inner.timeout)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{url}: {e}");
                    continue;
                }
            };
            let status = resp.status();
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    last = format!("{url}: reading body: {e}");
                    continue;
                }
            };
            if status.is_success() {
                inner.current.store(i, Ordering::Relaxed);
                return Ok(bytes.to_vec());
            }
            let err: GatewayError = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = if err.message.is_empty() {
                err.error
            } else {
                err.message
            };
            if err.code == GRPC_UNAVAILABLE || status.as_u16() == 503 {
                last = format!("{url}: {message}");
                continue;
            }
            return Err(EtcdError::Http {
                status: status.as_u16(),
                code: err.code,
                message,
            });
        }
        Err(EtcdError::Unavailable(last))
    }

    /// Grant a lease of `ttl_secs` seconds; returns its id.
    pub async fn lease_grant(&self, ttl_secs: i64) -> Result<i64, EtcdError> {
        let body = self
            .post("/v3/lease/grant", &json!({ "TTL": ttl_secs.to_string() }))
            .await?;
        let resp: LeaseGrantResp = parse(&body)?;
        if !resp.error.is_empty() {
            return Err(EtcdError::Http {
                status: 200,
                code: -1,
                message: resp.error,
            });
        }
        if resp.id == 0 {
            return Err(EtcdError::Decode("lease grant without an ID".into()));
        }
        Ok(resp.id)
    }

    /// Refresh lease `id` once; returns the remaining TTL in seconds, `0` if the lease is gone.
    pub async fn lease_keepalive_once(&self, id: i64) -> Result<i64, EtcdError> {
        let body = self
            .post("/v3/lease/keepalive", &json!({ "ID": id.to_string() }))
            .await?;
        // A stream of `{"result": ...}` lines; our request stream held one message.
        let line = body
            .split(|b| *b == b'\n')
            .find(|l| !l.iter().all(u8::is_ascii_whitespace))
            .ok_or_else(|| EtcdError::Decode("empty keepalive answer".into()))?;
        let msg: StreamLine<KeepAliveResult> = parse(line)?;
        if let Some(err) = msg.error {
            let text = err.to_string();
            if text.contains("lease not found") {
                return Ok(0);
            }
            return Err(EtcdError::Http {
                status: 200,
                code: -1,
                message: text,
            });
        }
        Ok(msg.result.map(|r| r.ttl).unwrap_or(0).max(0))
    }

    /// Revoke lease `id`, deleting every key attached to it. A lease already gone is not an error.
    pub async fn lease_revoke(&self, id: i64) -> Result<(), EtcdError> {
        match self
            .post("/v3/lease/revoke", &json!({ "ID": id.to_string() }))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_lease_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// In one transaction: if `key` does not exist, put `value` attached to `lease` (`0`: no
    /// lease); otherwise read the existing entry. Exactly one of several racing callers gets
    /// [`Created::Created`].
    pub async fn create_if_absent(
        &self,
        key: &[u8],
        value: &[u8],
        lease: i64,
    ) -> Result<Created, EtcdError> {
        let k = b64(key);
        let mut put = json!({ "key": k, "value": b64(value) });
        if lease != 0 {
            put["lease"] = Value::String(lease.to_string());
        }
        let body = json!({
            "compare": [{ "target": "CREATE", "key": k, "create_revision": "0", "result": "EQUAL" }],
            "success": [{ "request_put": put }],
            "failure": [{ "request_range": { "key": k } }],
        });
        let raw = self.post("/v3/kv/txn", &body).await?;
        let resp: TxnResp = parse(&raw)?;
        if resp.succeeded {
            return Ok(Created::Created {
                revision: resp.header.revision,
            });
        }
        let existing = resp
            .responses
            .iter()
            .filter_map(|r| r.response_range.as_ref())
            .flat_map(|r| r.kvs.iter())
            .next()
            .ok_or_else(|| {
                EtcdError::Decode("failed create txn without the existing key".into())
            })?;
        Ok(Created::Existing(existing.decode()?))
    }

    /// Delete `key` only if its value is still `value` (one transaction). Returns whether it
    /// deleted, and the revision the transaction ran at.
    pub async fn delete_if_value(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<(bool, i64), EtcdError> {
        let k = b64(key);
        let body = json!({
            "compare": [{ "target": "VALUE", "key": k, "value": b64(value), "result": "EQUAL" }],
            "success": [{ "request_delete_range": { "key": k } }],
        });
        let raw = self.post("/v3/kv/txn", &body).await?;
        let resp: TxnResp = parse(&raw)?;
        Ok((resp.succeeded, resp.header.revision))
    }

    /// Delete `key` unconditionally.
    pub async fn delete(&self, key: &[u8]) -> Result<(), EtcdError> {
        self.post("/v3/kv/deleterange", &json!({ "key": b64(key) }))
            .await
            .map(|_| ())
    }

    /// Linearizable read of one key.
    pub async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, EtcdError> {
        let raw = self
            .post("/v3/kv/range", &json!({ "key": b64(key) }))
            .await?;
        let resp: RangeResp = parse(&raw)?;
        resp.kvs.first().map(RawKv::decode).transpose()
    }

    /// Linearizable read of every key starting with `prefix`, with the revision it was read at
    /// (start a watch at that revision + 1 to miss nothing).
    pub async fn range_prefix(&self, prefix: &[u8]) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let body = json!({ "key": b64(prefix), "range_end": b64(&prefix_range_end(prefix)) });
        let raw = self.post("/v3/kv/range", &body).await?;
        let resp: RangeResp = parse(&raw)?;
        let kvs = resp
            .kvs
            .iter()
            .map(RawKv::decode)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((kvs, resp.header.revision))
    }

    /// Watch every key starting with `prefix` from `start_revision` on (`0`: from now).
    ///
    /// Events arrive in revision order on the returned channel. When the stream breaks (member
    /// died, connection reset) the watch reconnects, to the next endpoint, from the revision after
    /// the last event seen, so nothing is lost or repeated. The background task ends when the
    /// receiver is dropped, or after sending [`WatchEvent::Compacted`].
    pub fn watch_prefix(&self, prefix: &[u8], start_revision: i64) -> mpsc::Receiver<WatchEvent> {
        let (tx, rx) = mpsc::channel(1024);
        let this = self.clone();
        let prefix = prefix.to_vec();
        tokio::spawn(async move { this.watch_loop(prefix, start_revision, tx).await });
        rx
    }

    async fn watch_loop(&self, prefix: Vec<u8>, start_revision: i64, tx: mpsc::Sender<WatchEvent>) {
        let inner = &self.inner;
        let n = inner.endpoints.len();
        let mut next_rev = start_revision;
        let mut backoff = Duration::from_millis(50);
        let mut attempt = 0usize;
        loop {
            if tx.is_closed() {
                return;
            }
            let i = (inner.current.load(Ordering::Relaxed) + attempt) % n;
            attempt += 1;
            let mut create = json!({
                "key": b64(&prefix),
                "range_end": b64(&prefix_range_end(&prefix)),
            });
            if next_rev > 0 {
                create["start_revision"] = Value::String(next_rev.to_string());
            }
            let url = format!("{}/v3/watch", inner.endpoints[i]);
            let sent = tokio::select! {
                r = inner.http.post(&url).json(&json!({ "create_request": create })).send() => r,
                _ = tx.closed() => return,
            };
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    let mut stream = resp.bytes_stream();
                    let mut buf: Vec<u8> = Vec::new();
                    'stream: loop {
                        let chunk = tokio::select! {
                            c = stream.next() => c,
                            _ = tx.closed() => return,
                        };
                        let chunk = match chunk {
                            Some(Ok(c)) => c,
                            _ => break 'stream, // broken or ended: reconnect
                        };
                        buf.extend_from_slice(&chunk);
                        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = buf.drain(..=pos).collect();
                            if line.iter().all(u8::is_ascii_whitespace) {
                                continue;
                            }
                            let Ok(msg) = serde_json::from_slice::<StreamLine<WatchResp>>(&line)
                            else {
                                break 'stream;
                            };
                            if msg.error.is_some() {
                                break 'stream;
                            }
                            let Some(w) = msg.result else { continue };
                            // A working stream: later failures start over at the first backoff.
                            backoff = Duration::from_millis(50);
                            attempt = 0;
                            inner.current.store(i, Ordering::Relaxed);
                            if w.compact_revision > 0 {
                                let _ = tx
                                    .send(WatchEvent::Compacted {
                                        compact_revision: w.compact_revision,
                                    })
                                    .await;
                                return;
                            }
                            for ev in &w.events {
                                let Some(kv) = &ev.kv else { continue };
                                let (Ok(key), Ok(value)) = (unb64(&kv.key), unb64(&kv.value))
                                else {
                                    continue;
                                };
                                let revision = kv.mod_revision;
                                let event = if ev.kind == "DELETE" {
                                    WatchEvent::Delete { key, revision }
                                } else {
                                    WatchEvent::Put {
                                        key,
                                        value,
                                        revision,
                                    }
                                };
                                if tx.send(event).await.is_err() {
                                    return;
                                }
                                next_rev = next_rev.max(revision + 1);
                            }
                            if w.canceled {
                                break 'stream;
                            }
                        }
                    }
                }
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = tx.closed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_end_of_prefixes() {
        assert_eq!(prefix_range_end(b"p"), b"q".to_vec());
        assert_eq!(prefix_range_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_range_end(b"\xff"), vec![0]);
        assert_eq!(prefix_range_end(b""), vec![0]);
    }

    #[test]
    fn decodes_gateway_shapes() {
        let r: RangeResp = parse(br#"{"header":{"revision":"7"},"kvs":[{"key":"Zm9v","mod_revision":"3","value":"YmFy","lease":"12"}],"count":"1"}"#).unwrap();
        assert_eq!(r.header.revision, 7);
        let kv = r.kvs[0].decode().unwrap();
        assert_eq!(
            (
                kv.key.as_slice(),
                kv.value.as_slice(),
                kv.mod_revision,
                kv.lease
            ),
            (&b"foo"[..], &b"bar"[..], 3, 12)
        );
        let k: StreamLine<KeepAliveResult> =
            parse(br#"{"result":{"header":{},"ID":"5"}}"#).unwrap();
        assert_eq!(k.result.unwrap().ttl, 0);
        assert!(parse::<RangeResp>(b"not json").is_err());
        let bad: RangeResp = parse(br#"{"kvs":[{"key":"!!!"}]}"#).unwrap();
        assert!(bad.kvs[0].decode().is_err());
    }
}
