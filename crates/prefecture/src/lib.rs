//! Multi-city (tenant) mode for a prefecture's security cloud.
//!
//! What it does: a [`Prefecture`] serves many cities from one process. Each city (tenant) is a
//! complete mamori data directory of its own under `<root>/cities/<tenant>/` — its own ledger,
//! checkpoint signing key, witness key and accounts/tokens (ledgered in that city's ledger) — so
//! a city's log stays verifiable on its own and can be moved to its own box. Events of all cities
//! are indexed into one shared ClickHouse table with a `tenant` column
//! ([`mamori_store_clickhouse`]); each city's follower indexes its own ledger under its own
//! tenant id. The prefecture has its own data directory (`<root>/prefecture/`) whose tokens
//! give the prefecture role.
//!
//! The HTTP API ([`router`]) has the tenant id in every path (`/t/{tenant}/api/v1/...`) and
//! checks it server-side on every request: a token is looked up only in the accounts of the
//! city named in the path (a token of another city is unknown there: 401), and the caller's
//! [`Scope`] must cover the tenant for the data asked for: city tokens see their own city's
//! events; prefecture tokens see cross-tenant health and aggregates
//! (`/prefecture/api/v1/health`, `/t/{tenant}/api/v1/health`) and no events (403) unless the
//! city granted it: a city's admin may open the city's event search and single events to the
//! prefecture with a reason and an expiry ([`grants`]); the grant, its revocation and every read
//! the prefecture makes under it are ledgered in the city's own ledger. Every ClickHouse
//! statement a city's store sends is filtered by that city's tenant id.
//!
//! Each city also runs the single-city server's machinery over its own data directory
//! ([`mamori_server::AppState`]): its SQLite index (which the single-city code paths — accounts,
//! rule context, alerts — read), streaming detection with its own rules and `alerts.db`, and the
//! Elasticsearch-compatible `_bulk` ingest. Those routes are served under the city's prefix
//! (`/t/{tenant}/_bulk`, `/t/{tenant}/api/v1/alerts`, …; see [`router`]) by the city's own
//! single-city router, so only that city's tokens are known there. The city's web UI is one of
//! them (`/t/{tenant}/ui/`, [`mamori_ui::routes_under`]): its own accounts and sessions, cookies
//! scoped to `/t/{tenant}/`.
//!
//! The prefecture witnesses every city's checkpoints ([`witness`]): it cosigns each new
//! checkpoint that is consistent with what it cosigned before and raises an alarm (health, and
//! an entry in its own ledger) when a city's history was rolled back or forked. Cities that run
//! single-city `mamori serve` on their own box are witnessed over HTTP ([`remote`],
//! `POST /prefecture/witness/add-checkpoint`), and a city's key rotation is followed only with
//! proof that its old key authorised the new one ([`witness::RotationEvidence`]).
//!
//! With [`Prefecture::open_with`] (or [`Options::bus`]) and a NATS JetStream bus, each city's
//! ledger is published to the stream; its ClickHouse rows come from a durable consumer
//! (`index-<city>`) and its streaming detection from another (`detect-<city>`,
//! [`mamori_server::detection::Detection::start_fed`]) instead of following the ledger, so
//! indexing and detection scale (and stop, and catch up) apart from ingest.
//!
//! Operations: [`add_city_user`] creates a city's web-UI account with a one-time password
//! (changed at the first login), ledgered in the city's ledger; [`Options::secure_cookies`]
//! (or `[server] secure_cookies` in the prefecture's or a city's `config.toml`) marks the
//! cities' UI cookies `Secure`; [`serve_syslog`] runs each city's own syslog listeners
//! (`[server] syslog_tcp` / `syslog_udp` in the city's `config.toml`, [`set_city_syslog`]),
//! whose messages go to that city's ledger only.
//!
//! What it does not do: it is a separate mode; the single-city `mamori serve` with its embedded
//! SQLite index is unchanged and does not use this crate. Not yet here (see docs/scale.md):
//! a witness endpoint over HTTP for cities on their own boxes, grants for more than event search
//! and single events (timelines, alerts, the city's UI), syslog over TLS per city, and adding accounts while the server runs
//! (other than on a city's UI settings page).
#![deny(missing_docs)]

pub mod grants;
pub mod remote;
pub mod witness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use mamori_auth::{Action, AuthState, Principal, parse_authorization};
use mamori_ledger::{EntryKind, Ledger, NewEntry};
use mamori_server::DataDir;
use mamori_store::{EventKind, IndexBackend, IndexEvent};
use mamori_store_clickhouse::{ClickHouseStore, Config as ChConfig};
pub use mamori_tenant::{Scope, TenantError, TenantId};
use serde_json::{Value, json};
use tower::ServiceExt;
use witness::{CityWitness, Round};

/// Errors of setting up the prefecture.
#[derive(Debug, thiserror::Error)]
pub enum PrefectureError {
    /// A city's or the prefecture's data directory.
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: mamori_server::datadir::DataDirError,
    },
    /// The shared index.
    #[error("shared index: {0}")]
    Index(#[from] mamori_store::StoreError),
    /// A tenant id.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// Creating an account or token.
    #[error("auth: {0}")]
    Auth(String),
    /// No such city.
    #[error("市町村 {0} はこの県にありません / no city {0} in this prefecture")]
    UnknownCity(TenantId),
    /// A role name that is not one of the roles of single-city mode.
    #[error(
        "ロール {0:?} はありません(admin・officer・auditor・viewer・ingest・witness のいずれか)/ unknown role {0:?} (expected admin, officer, auditor, viewer, ingest or witness)"
    )]
    UnknownRole(String),
    /// A city's syslog setting.
    #[error("syslog: {0}")]
    Syslog(String),
    /// A city's syslog listener could not be started.
    #[error("市町村 {tenant} / city {tenant}: {error}")]
    SyslogListen {
        /// The city.
        tenant: TenantId,
        /// Which listener (protocol, address) and why.
        error: mamori_server::syslog::ListenError,
    },
    /// The prefecture's witness key or a city's witness state.
    #[error("prefecture witness: {0}")]
    Witness(String),
}

/// One city.
pub struct City {
    /// Its tenant id.
    pub tenant: TenantId,
    /// Its ledger.
    pub ledger: Ledger,
    /// Its accounts and tokens (replayed from its own ledger).
    pub auth: Arc<RwLock<AuthState>>,
    /// Its view of the shared index (every statement filtered by its tenant id).
    index: Mutex<ClickHouseStore>,
    /// Its single-city server state (own SQLite index, detection, `_bulk` ingest).
    pub server: mamori_server::AppState,
    /// The single-city router over `server`, for the routes served under the city's prefix.
    city_router: Router,
    /// The prefecture's witnessing of this city's checkpoints.
    pub witness: Arc<CityWitness>,
    /// The city's grants opening its events to the prefecture ([`grants`]).
    pub grants: grants::Grants,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    bus: Mutex<Option<BusFeed>>,
}

/// A city's ledger → NATS JetStream → ClickHouse feed ([`Prefecture::open_with`]).
struct BusFeed {
    publisher: mamori_bus::Publisher,
    consumer: mamori_bus::Consumer<mamori_bus::IndexSink<ClickHouseStore>>,
    /// The city's streaming detection, fed by its own durable consumer `detect-<city>`.
    detect: mamori_bus::Consumer<DetectSink>,
}

/// A city's streaming detection as a bus sink: its position is the detector's own high-water
/// mark in the city's `alerts.db` (committed with the alerts), so a restarted consumer resumes
/// after the last evaluated record and raises nothing twice.
struct DetectSink {
    detection: Arc<mamori_server::detection::Detection>,
}

impl mamori_bus::Sink for DetectSink {
    fn position(&mut self) -> Result<Option<u64>, String> {
        Ok(self.detection.next_index().checked_sub(1))
    }

    fn deliver(&mut self, records: &[mamori_bus::BusRecord]) -> Result<(), String> {
        let mut batch = Vec::with_capacity(records.len());
        for r in records {
            let kind: EntryKind = r
                .kind
                .parse()
                .map_err(|e| format!("ledger index {}: entry kind {:?}: {e:?}", r.id, r.kind))?;
            let rec = mamori_ledger::Record {
                index: r.id,
                kind,
                ingested_micros: r.ingested_micros,
                // Detection reads neither; the ledger keeps them (and proofs come from it).
                salt: [0; 16],
                payload: r.payload.clone(),
                erased: r.erased,
                commitment: [0; 32],
            };
            let doc = mamori_server::indexer::doc_of(&rec);
            batch.push((rec, doc));
        }
        self.detection.deliver(&batch)
    }
}

/// How [`Prefecture::open_opts`] runs the cities.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// NATS JetStream: each city's ledger is published to the stream, and both its ClickHouse
    /// rows and its streaming detection come from durable consumers of the city's subject
    /// (`index-<city>`, `detect-<city>`) instead of following the ledger.
    pub bus: Option<mamori_bus::BusConfig>,
    /// Mark every city's web-UI cookies `Secure` (for a TLS-terminating proxy in front). Also
    /// on when the prefecture's `config.toml` has `[server] secure_cookies = true` (for every
    /// city) or a city's own `config.toml` has it (for that city).
    pub secure_cookies: bool,
}

impl City {
    /// Records of this city the bus is known to hold, when it is fed through NATS.
    pub fn bus_published(&self) -> Option<u64> {
        self.bus
            .lock()
            .unwrap()
            .as_ref()
            .map(|f| f.publisher.published())
    }
}

/// The prefecture: its cities and its own accounts. See the crate docs.
pub struct Prefecture {
    cities: BTreeMap<TenantId, Arc<City>>,
    auth: Arc<RwLock<AuthState>>,
    prefecture_ledger: Ledger,
    index: ChConfig,
    witness_vkey: String,
    /// Cities on their own boxes, witnessed over HTTP ([`remote`]).
    remote: Arc<remote::RemoteCities>,
}

/// What [`Prefecture::create_city`] and [`Prefecture::init`] return: the first admin token,
/// shown once.
#[derive(Debug, Clone)]
pub struct Created {
    /// The log origin.
    pub origin: String,
    /// The first admin token of the new data directory.
    pub admin_token: String,
    /// The log's verifier key.
    pub vkey: String,
    /// The data directory's witness verifier key (for the prefecture: the key every city's
    /// checkpoints are cosigned with).
    pub witness_vkey: String,
}

fn dd_err(
    path: &Path,
) -> impl FnOnce(mamori_server::datadir::DataDirError) -> PrefectureError + '_ {
    move |source| PrefectureError::DataDir {
        path: path.to_owned(),
        source,
    }
}

/// The data directory of city `tenant` under `root`.
pub fn city_dir(root: &Path, tenant: &TenantId) -> PathBuf {
    root.join("cities").join(tenant.as_str())
}

/// Creates the prefecture's own data directory under `root` (origin `<domain>/prefecture`).
pub fn init_prefecture(root: &Path, domain: &str) -> Result<Created, PrefectureError> {
    let p = root.join("prefecture");
    let origin = format!("{domain}/prefecture");
    let r = DataDir::new(&p).init(&origin).map_err(dd_err(&p))?;
    Ok(Created {
        origin,
        admin_token: r.admin_token,
        vkey: r.vkey,
        witness_vkey: r.witness_vkey,
    })
}

/// Creates city `tenant`'s data directory (own keys, ledger, witness key; origin
/// `<domain>/<tenant>`).
pub fn init_city(root: &Path, domain: &str, tenant: &TenantId) -> Result<Created, PrefectureError> {
    let p = city_dir(root, tenant);
    let origin = format!("{domain}/{tenant}");
    let r = DataDir::new(&p).init(&origin).map_err(dd_err(&p))?;
    Ok(Created {
        origin,
        admin_token: r.admin_token,
        vkey: r.vkey,
        witness_vkey: r.witness_vkey,
    })
}

/// A city's new web-UI account ([`add_city_user`]).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The one-time password (shown once, never stored): it opens only the UI's
    /// change-password page until the user sets their own.
    pub password: String,
    /// Ledger ids of the two admin entries in the city's ledger: the account
    /// (`user-added`) and its one-time password (`password-reset`).
    pub ledger_ids: [u64; 2],
}

/// Creates a web-UI account `name` with `role` (a role name of single-city mode) in city
/// `tenant`'s own accounts, with a one-time password that must be changed at the first login
/// (as an administrator's password reset in single-city mode). Both admin entries are ledgered
/// together in that city's ledger by `actor`. Works on the city's data directory, so the
/// prefecture's server must not be running (the ledger has one writer), as with `mamori token`.
pub fn add_city_user(
    root: &Path,
    tenant: &TenantId,
    name: &str,
    role: &str,
    actor: &str,
) -> Result<NewUser, PrefectureError> {
    let role: mamori_auth::Role = role
        .parse()
        .map_err(|_| PrefectureError::UnknownRole(role.to_owned()))?;
    let d = city_dir(root, tenant);
    let dd = DataDir::new(&d);
    if !dd.exists() {
        return Err(PrefectureError::UnknownCity(tenant.clone()));
    }
    let name = name.trim();
    let password = mamori_auth::one_time_password();
    let password_phc =
        mamori_auth::hash_password(&password).map_err(|e| PrefectureError::Auth(e.to_string()))?;
    let added = mamori_auth::AdminRecord::UserAdded {
        name: name.to_owned(),
        role,
        password_phc: password_phc.clone(),
    };
    let reset = mamori_auth::AdminRecord::PasswordReset {
        name: name.to_owned(),
        password_phc,
    };
    let opened = dd.open().map_err(dd_err(&d))?;
    let res = (|| {
        // Both records must hold on the city's accounts before either is ledgered.
        let mut after = opened.auth.read().unwrap().clone();
        after
            .apply(&added)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        after
            .check(&reset)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        let r = opened
            .ledger
            .append_blocking(vec![
                NewEntry {
                    kind: EntryKind::Admin,
                    payload: mamori_server::datadir::admin_payload(actor, &added),
                },
                NewEntry {
                    kind: EntryKind::Admin,
                    payload: mamori_server::datadir::admin_payload(actor, &reset),
                },
            ])
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        mamori_server::indexer::catch_up(&opened.ledger, &mut opened.store.lock().unwrap())
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        Ok(NewUser {
            password,
            ledger_ids: [r.first_index, r.first_index + 1],
        })
    })();
    opened.ledger.close();
    res
}

/// Witnesses `city`'s checkpoints until `stop`: a round at start and at every new checkpoint
/// (and again every few seconds after a failure); alarms are ledgered in the prefecture's
/// ledger.
fn witness_city(
    w: Arc<CityWitness>,
    city: Ledger,
    prefecture: Ledger,
    tenant: TenantId,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("witness-{tenant}"))
        .spawn(move || {
            const RETRY: Duration = Duration::from_secs(3);
            let mut done: Option<u64> = None;
            let mut retry_at: Option<std::time::Instant> = None;
            while !stop.load(Ordering::SeqCst) {
                let cp = city.checkpoint();
                let due = done != Some(cp.size)
                    || retry_at.is_some_and(|t| std::time::Instant::now() >= t);
                if due {
                    retry_at = None;
                    match w.round(&city) {
                        Round::Cosigned(_) => {}
                        Round::Alarm(a) => {
                            w.ledger_alarm(&prefecture, tenant.as_str(), &a, &cp.note);
                        }
                        Round::Failed(_) => {
                            retry_at = Some(std::time::Instant::now() + RETRY);
                        }
                    }
                    done = Some(cp.size);
                }
                city.wait_checkpoint(cp.size + 1, Duration::from_millis(200));
            }
        })
        .expect("spawn witness")
}

/// Indexes `ledger` into `store` from its position until `stop` (retrying after errors, as a
/// restarted indexer would: the position is re-read from the index).
fn follow(
    ledger: Ledger,
    cfg: ChConfig,
    tenant: TenantId,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("follow-{tenant}"))
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let mut store = match ClickHouseStore::open(cfg.clone(), tenant.clone()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(%tenant, error = %e, "shared index unavailable; retrying");
                        std::thread::sleep(Duration::from_millis(500));
                        continue;
                    }
                };
                let Ok(upto) = store.indexed_upto() else {
                    continue;
                };
                let mut cursor = ledger.records_from(upto.map_or(0, |u| u + 1));
                while !stop.load(Ordering::SeqCst) {
                    let records = match cursor.read(ledger.durable_size(), 4096) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::error!(%tenant, error = %e, "cannot read the ledger");
                            std::thread::sleep(Duration::from_millis(500));
                            break;
                        }
                    };
                    if records.is_empty() {
                        ledger.wait_durable_beyond(cursor.position(), Duration::from_millis(100));
                        continue;
                    }
                    let docs: Vec<Value> =
                        records.iter().map(mamori_server::indexer::doc_of).collect();
                    let events: Vec<IndexEvent<'_>> = records
                        .iter()
                        .zip(&docs)
                        .map(|(r, d)| IndexEvent {
                            id: r.index,
                            ingested_micros: r.ingested_micros,
                            kind: EventKind::from_name(r.kind.as_str()),
                            doc: d,
                            raw: None,
                        })
                        .collect();
                    if let Err(e) = store.index_batch(&events) {
                        tracing::warn!(%tenant, error = %e, "indexing failed; retrying");
                        std::thread::sleep(Duration::from_millis(500));
                        break;
                    }
                }
            }
        })
        .expect("spawn follower")
}

impl Prefecture {
    /// Opens the prefecture under `root` with the given cities (their data directories must
    /// exist: [`init_city`]) and the shared index `index` (tables must exist:
    /// [`mamori_store_clickhouse::schema`]); starts one follower per city.
    pub fn open(
        root: &Path,
        cities: &[TenantId],
        index: ChConfig,
    ) -> Result<Prefecture, PrefectureError> {
        Self::open_opts(root, cities, index, Options::default())
    }

    /// As [`Prefecture::open`]; with `bus`, each city's ledger is published to NATS JetStream
    /// ([`mamori_bus::Publisher`], subject `mamori.events.<city>`) and its ClickHouse rows come
    /// from a durable consumer ([`mamori_bus::Consumer`] named `index-<city>`) instead of a
    /// direct ledger follower, so indexing can run (and fall behind, or restart) apart from
    /// ingest; acknowledgement still only waits for the city's ledger.
    pub fn open_with(
        root: &Path,
        cities: &[TenantId],
        index: ChConfig,
        bus: Option<mamori_bus::BusConfig>,
    ) -> Result<Prefecture, PrefectureError> {
        Self::open_opts(
            root,
            cities,
            index,
            Options {
                bus,
                ..Options::default()
            },
        )
    }

    /// As [`Prefecture::open`], with [`Options`]: the NATS JetStream bus (see
    /// [`Prefecture::open_with`]; each city's detection then runs as the durable consumer
    /// `detect-<city>`) and `Secure` cookies.
    pub fn open_opts(
        root: &Path,
        cities: &[TenantId],
        index: ChConfig,
        opts: Options,
    ) -> Result<Prefecture, PrefectureError> {
        let Options {
            bus,
            secure_cookies,
        } = opts;
        let p = root.join("prefecture");
        let pref = DataDir::new(&p).open().map_err(dd_err(&p))?;
        let mut map = BTreeMap::new();
        for t in cities {
            let d = city_dir(root, t);
            let dd = DataDir::new(&d);
            let opened = dd.open().map_err(dd_err(&d))?;
            let city_grants = grants::Grants::rebuild(&opened.store.lock().unwrap())?;
            // The city's own single-city machinery: detection over its data dir (started by
            // AppState::new) fed by its SQLite indexer's hook.
            // With the bus, detection is fed by the city's `detect-<city>` consumer instead.
            let server = if bus.is_some() {
                mamori_server::AppState::new_fed_detection(dd.clone(), &opened)
            } else {
                mamori_server::AppState::new(dd.clone(), &opened)
            }
            .map_err(dd_err(&d))?;
            let secure = secure_cookies
                || pref.cfg.server.secure_cookies
                || opened.cfg.server.secure_cookies;
            let vkey = dd.log_vkey().map_err(dd_err(&d))?;
            let w = Arc::new(
                CityWitness::load(&p, t.as_str(), &vkey)
                    .map_err(|e| PrefectureError::Witness(e.to_string()))?
                    .ledgering_to(pref.ledger.clone(), t.as_str()),
            );
            let stop = Arc::new(AtomicBool::new(false));
            let mut threads = Vec::new();
            let feed = match &bus {
                None => {
                    threads.push(follow(
                        opened.ledger.clone(),
                        index.clone(),
                        t.clone(),
                        stop.clone(),
                    ));
                    None
                }
                Some(b) => Some(BusFeed {
                    publisher: mamori_bus::Publisher::spawn(
                        opened.ledger.clone(),
                        b.clone(),
                        t.clone(),
                    ),
                    consumer: mamori_bus::Consumer::spawn(
                        b.clone(),
                        t.clone(),
                        &format!("index-{t}"),
                        mamori_bus::IndexSink::new(ClickHouseStore::open(
                            index.clone(),
                            t.clone(),
                        )?),
                    ),
                    detect: mamori_bus::Consumer::spawn(
                        b.clone(),
                        t.clone(),
                        &format!("detect-{t}"),
                        DetectSink {
                            detection: server.detection.clone(),
                        },
                    ),
                }),
            };
            threads.extend([
                mamori_server::indexer::spawn(
                    opened.ledger.clone(),
                    opened.store.clone(),
                    stop.clone(),
                ),
                witness_city(
                    w.clone(),
                    opened.ledger.clone(),
                    pref.ledger.clone(),
                    t.clone(),
                    stop.clone(),
                ),
            ]);
            map.insert(
                t.clone(),
                Arc::new(City {
                    tenant: t.clone(),
                    ledger: opened.ledger,
                    auth: opened.auth,
                    index: Mutex::new(ClickHouseStore::open(index.clone(), t.clone())?),
                    // The city's web UI is served under its prefix too; its session and
                    // preference cookies are scoped to `/t/{tenant}/`.
                    city_router: mamori_server::router(server.clone()).merge(
                        mamori_ui::routes_under(secure, &format!("/t/{t}"))
                            .with_state(server.clone()),
                    ),
                    server,
                    witness: w,
                    grants: city_grants,
                    stop,
                    threads: Mutex::new(threads),
                    bus: Mutex::new(feed),
                }),
            );
        }
        let remote = remote::RemoteCities::open(&p, pref.ledger.clone())
            .map_err(|e| PrefectureError::Witness(e.to_string()))?;
        Ok(Prefecture {
            remote: Arc::new(remote),
            cities: map,
            auth: pref.auth,
            prefecture_ledger: pref.ledger,
            index,
            witness_vkey: witness::witness_vkey(&p)
                .map_err(|e| PrefectureError::Witness(e.to_string()))?,
        })
    }

    /// Creates an API token with `role` for city `tenant`, or for the prefecture when `None`;
    /// ledgered as an admin action in that city's (or the prefecture's) own ledger by `actor`.
    /// Returns the secret (shown once).
    pub fn create_token(
        &self,
        tenant: Option<&TenantId>,
        name: &str,
        role: mamori_auth::Role,
        actor: &str,
    ) -> Result<String, PrefectureError> {
        let (ledger, auth) = match tenant {
            Some(t) => {
                let c = self
                    .cities
                    .get(t)
                    .ok_or_else(|| PrefectureError::UnknownCity(t.clone()))?;
                (&c.ledger, &c.auth)
            }
            None => (&self.prefecture_ledger, &self.auth),
        };
        let (secret, record) = mamori_auth::Token::generate(role, name)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?
            .into_parts();
        let rec = mamori_auth::AdminRecord::TokenCreated { record };
        auth.read()
            .unwrap()
            .check(&rec)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        mamori_server::datadir::append_admin(ledger, actor, &rec)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        auth.write()
            .unwrap()
            .apply(&rec)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        Ok(secret)
    }

    /// Creates a local account (web UI login) with `role` and `password` in city `tenant`;
    /// ledgered as an admin action in that city's own ledger by `actor`.
    pub fn create_user(
        &self,
        tenant: &TenantId,
        name: &str,
        role: mamori_auth::Role,
        password: &str,
        actor: &str,
    ) -> Result<(), PrefectureError> {
        let c = self
            .cities
            .get(tenant)
            .ok_or_else(|| PrefectureError::UnknownCity(tenant.clone()))?;
        let password_phc = mamori_auth::hash_password(password)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        let rec = mamori_auth::AdminRecord::UserAdded {
            name: name.to_owned(),
            role,
            password_phc,
        };
        c.auth
            .read()
            .unwrap()
            .check(&rec)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        mamori_server::datadir::append_admin(&c.ledger, actor, &rec)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        c.auth
            .write()
            .unwrap()
            .apply(&rec)
            .map_err(|e| PrefectureError::Auth(e.to_string()))?;
        Ok(())
    }

    /// The prefecture's witness verifier key (every city's checkpoints are cosigned with it).
    pub fn witness_vkey(&self) -> &str {
        &self.witness_vkey
    }

    /// The prefecture's own ledger (admin actions, witness alarms).
    pub fn ledger(&self) -> &Ledger {
        &self.prefecture_ledger
    }

    /// The cities witnessed over HTTP ([`remote`]).
    pub fn remote(&self) -> &remote::RemoteCities {
        &self.remote
    }

    /// One city.
    pub fn city(&self, tenant: &TenantId) -> Option<&Arc<City>> {
        self.cities.get(tenant)
    }

    /// The cities.
    pub fn cities(&self) -> impl Iterator<Item = &Arc<City>> {
        self.cities.values()
    }

    /// Stops the followers and closes every ledger.
    pub fn close(&self) {
        for c in self.cities.values() {
            c.stop.store(true, Ordering::SeqCst);
        }
        for c in self.cities.values() {
            if let Some(f) = c.bus.lock().unwrap().take() {
                f.publisher.stop();
                drop(f.consumer.stop());
                drop(f.detect.stop());
            }
            for h in c.threads.lock().unwrap().drain(..) {
                let _ = h.join();
            }
            c.ledger.close();
        }
        self.prefecture_ledger.close();
    }
}

/// An API error: status, a stable code, Japanese first and English beside it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    ja: String,
    en: String,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        ja: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            ja: ja.into(),
            en: en.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.ja, "message_en": self.en}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<mamori_store::StoreError> for ApiError {
    fn from(e: mamori_store::StoreError) -> Self {
        if e.is_invalid_input() {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("検索条件が不正です: {e}"),
                e.to_string(),
            )
        } else {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "index_unavailable",
                "索引を利用できません。しばらくしてから再試行してください。",
                e.to_string(),
            )
        }
    }
}

type AppState = Arc<Prefecture>;

fn city(st: &Prefecture, tenant: &str) -> Result<(TenantId, Arc<City>), ApiError> {
    let t = TenantId::new(tenant).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_tenant",
            e.to_string(),
            e.to_string(),
        )
    })?;
    let c = st.cities.get(&t).cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("テナント {t} はありません。"),
            format!("no tenant {t}"),
        )
    })?;
    Ok((t, c))
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "認証に失敗しました。",
        "authentication failed",
    )
}

/// Who is calling on `tenant`'s path (or on the prefecture's path when `tenant` is `None`):
/// a token of that city (scope: the city) or of the prefecture (scope: aggregates only).
/// Tokens are looked up only there, so another city's token is unknown (401).
fn caller(
    st: &Prefecture,
    tenant: Option<&City>,
    headers: &HeaderMap,
) -> Result<(Scope, Principal), ApiError> {
    let h = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "認証が必要です(Authorization ヘッダーがありません)。",
                "authentication required (no Authorization header)",
            )
        })?;
    let creds = parse_authorization(h).map_err(|e| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            format!("認証情報の形式が不正です: {e}"),
            e.to_string(),
        )
    })?;
    if let Some(c) = tenant
        && let Some(p) = c.auth.read().unwrap().authenticate(&creds)
    {
        return Ok((Scope::City(c.tenant.clone()), p));
    }
    if let Some(p) = st.auth.read().unwrap().authenticate(&creds) {
        return Ok((Scope::Prefecture, p));
    }
    Err(unauthenticated())
}

fn forbidden(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        e.to_string(),
        e.to_string(),
    )
}

fn require(p: &Principal, action: Action) -> Result<(), ApiError> {
    if p.can(action) {
        Ok(())
    } else {
        Err(forbidden(format!(
            "権限がありません(ロール「{}」は {} を実行できません)/ role {} may not {}",
            p.role.label_ja(),
            action.as_str(),
            p.role.as_str(),
            action.as_str()
        )))
    }
}

/// A prefecture caller reading under a grant: the grant and the prefecture's principal.
type GrantedRead = Option<(grants::Grant, Principal)>;

/// Authorizes an events *read* route of `tenant`: a token of that city with `action`, or a
/// prefecture token with `action` while the city has a valid grant (returned with the
/// prefecture's principal, so the handler narrows the read and ledgers it).
fn for_event_reads(
    st: &Prefecture,
    tenant: &str,
    headers: &HeaderMap,
    action: Action,
) -> Result<(Arc<City>, GrantedRead), ApiError> {
    let (t, c) = city(st, tenant)?;
    let (scope, p) = caller(st, Some(&c), headers)?;
    let grant = match scope {
        Scope::Prefecture => c.grants.valid_at(chrono::Utc::now()),
        Scope::City(_) => None,
    };
    scope
        .check_events_read(&t, grant.is_some())
        .map_err(forbidden)?;
    require(&p, action)?;
    Ok((c, grant.map(|g| (g, p))))
}

fn grant_error(status: StatusCode, code: &'static str, e: grants::GrantRefused) -> ApiError {
    ApiError::new(status, code, e.ja, e.en)
}

fn ledger_unavailable(e: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ledger_unavailable",
        "台帳に記録できませんでした。",
        e,
    )
}

/// Authorizes an events route of `tenant`: a token of that city, with `action`.
fn for_events(
    st: &Prefecture,
    tenant: &str,
    headers: &HeaderMap,
    action: Action,
) -> Result<Arc<City>, ApiError> {
    let (t, c) = city(st, tenant)?;
    let (scope, p) = caller(st, Some(&c), headers)?;
    scope.check_events(&t).map_err(forbidden)?;
    require(&p, action)?;
    Ok(c)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "内部エラー",
            e.to_string(),
        )
    })?
}

async fn search(
    State(st): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
    UrlQuery(q): UrlQuery<mamori_store::Query>,
) -> Result<Response, ApiError> {
    let (c, granted) = for_event_reads(&st, &tenant, &headers, Action::ReadEvents)?;
    let page = blocking(move || {
        let Some((g, p)) = granted else {
            return Ok(c.index.lock().unwrap().search(&q)?);
        };
        // The prefecture under a grant: events only, inside the grant's range; the read is
        // ledgered in the city's ledger before anything is sent.
        let asked = serde_json::to_value(&q).unwrap_or(Value::Null);
        let mut q = q;
        g.narrow(&mut q)
            .map_err(|e| grant_error(StatusCode::BAD_REQUEST, "bad_request", e))?;
        let page = c.index.lock().unwrap().search(&q)?;
        grants::ledger_read(
            &c.ledger,
            &p.name,
            &g,
            json!({"route": "search", "query": asked}),
            page.events.len(),
        )
        .map_err(ledger_unavailable)?;
        Ok(page)
    })
    .await?;
    Ok(axum::Json(
        json!({"tenant": tenant, "events": page.events, "next_cursor": page.next_cursor}),
    )
    .into_response())
}

async fn get_event(
    State(st): State<AppState>,
    UrlPath((tenant, id)): UrlPath<(String, u64)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (c, granted) = for_event_reads(&st, &tenant, &headers, Action::ReadEvents)?;
    let hit = blocking(move || {
        let hit = c.index.lock().unwrap().get(id)?;
        let Some((g, p)) = granted else {
            return Ok(hit);
        };
        // Outside the grant (not an event, or outside its range) is answered as absent.
        let hit = hit.filter(|h| h.kind == EventKind::Event && g.covers_micros(h.timestamp_micros));
        grants::ledger_read(
            &c.ledger,
            &p.name,
            &g,
            json!({"route": "get", "event_id": id}),
            usize::from(hit.is_some()),
        )
        .map_err(ledger_unavailable)?;
        Ok(hit)
    })
    .await?;
    match hit {
        Some(h) => Ok(axum::Json(json!({"tenant": tenant, "event": h})).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("イベント {id} はありません。"),
            format!("no event {id}"),
        )),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct TimelineParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn timeline(
    State(st): State<AppState>,
    UrlPath((tenant, user)): UrlPath<(String, String)>,
    headers: HeaderMap,
    UrlQuery(p): UrlQuery<TimelineParams>,
) -> Result<Response, ApiError> {
    let c = for_events(&st, &tenant, &headers, Action::ReadTimeline)?;
    let page = blocking(move || {
        Ok(c.index.lock().unwrap().timeline(
            &user,
            p.from.as_deref(),
            p.to.as_deref(),
            p.limit,
            p.cursor.as_deref(),
        )?)
    })
    .await?;
    Ok(axum::Json(
        json!({"tenant": tenant, "events": page.events, "next_cursor": page.next_cursor}),
    )
    .into_response())
}

async fn ingest(
    State(st): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let c = for_events(&st, &tenant, &headers, Action::IngestEvents)?;
    let mut entries = Vec::new();
    let mut rejected = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.is_object() => entries.push(NewEntry { kind: EntryKind::Event, payload: line.to_vec() }),
            Ok(_) => rejected.push(json!({"line": n + 1, "reason": "JSON オブジェクトではありません / not a JSON object"})),
            Err(e) => rejected.push(json!({"line": n + 1, "reason": format!("JSON として読めません / not JSON: {e}")})),
        }
    }
    let ids = if entries.is_empty() {
        Vec::new()
    } else {
        let ledger = c.ledger.clone();
        blocking(move || {
            let r = ledger.append_blocking(entries).map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ledger_unavailable",
                    "台帳に記録できませんでした。",
                    e.to_string(),
                )
            })?;
            Ok((r.first_index..r.first_index + r.count).collect::<Vec<u64>>())
        })
        .await?
    };
    Ok(axum::Json(json!({"tenant": tenant, "ids": ids, "rejected": rejected})).into_response())
}

fn city_health(c: &City) -> Result<Value, ApiError> {
    let stats = c.index.lock().unwrap().stats()?;
    let cp = c.ledger.checkpoint();
    Ok(json!({
        "tenant": c.tenant,
        "ledger_size": c.ledger.durable_size(),
        "checkpoint_size": cp.size,
        "origin": cp.origin,
        "indexed_upto": stats.indexed_upto,
        "events": stats.total,
        "by_kind": stats.by_kind,
        "quarantine_pending": stats.quarantine_pending,
        "alerts": c.server.detection.list(None, None, u32::MAX).map(|a| a.len()).unwrap_or(0),
        "detected_upto": c.server.detection.next_index(),
        "witness": c.witness.status(),
        "grants": c.grants.counts(chrono::Utc::now()),
        "feed": if c.bus_published().is_some() { "nats" } else { "ledger" },
        "bus_published": c.bus_published(),
        "detect_feed": if c.bus_published().is_some() { "nats" } else { "ledger" },
        "detect_delivered": c.bus.lock().unwrap().as_ref().map(|f| f.detect.delivered()),
    }))
}

async fn tenant_health(
    State(st): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (t, c) = city(&st, &tenant)?;
    let (scope, p) = caller(&st, Some(&c), &headers)?;
    scope.check_aggregates(&t).map_err(forbidden)?;
    require(&p, Action::ReadMetrics)?;
    let v = blocking(move || city_health(&c)).await?;
    Ok(axum::Json(v).into_response())
}

async fn prefecture_health(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (scope, p) = caller(&st, None, &headers)?;
    if scope != Scope::Prefecture {
        return Err(forbidden(
            "県の集計は県の役割のみ / prefecture aggregates are for the prefecture role only",
        ));
    }
    require(&p, Action::ReadMetrics)?;
    let st2 = st.clone();
    let v = blocking(move || {
        let mut cities = Vec::new();
        for c in st2.cities.values() {
            cities.push(city_health(c)?);
        }
        let agg = mamori_store_clickhouse::tenant_aggregates(&st2.index)?;
        let (remote_alarms, remote_refused) = st2.remote.alarm_summary();
        let alarms: u64 = st2
            .cities
            .values()
            .map(|c| c.witness.status().alarms)
            .sum::<u64>()
            + remote_alarms;
        let mut refused: Vec<&str> = st2
            .cities
            .values()
            .filter(|c| c.witness.status().alarm.is_some())
            .map(|c| c.tenant.as_str())
            .collect();
        refused.extend(remote_refused.iter().map(String::as_str));
        Ok(json!({
            "cities": cities,
            "aggregates": agg,
            "witness": {"vkey": st2.witness_vkey, "alarms": alarms, "refused_cities": refused},
            "remote_cities": st2.remote.health(),
        }))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// A grant route of `tenant`: a token of that city (never the prefecture's), with `action`.
fn for_grants(
    st: &Prefecture,
    tenant: &str,
    headers: &HeaderMap,
    action: Action,
) -> Result<(Arc<City>, Principal), ApiError> {
    let (t, c) = city(st, tenant)?;
    let (scope, p) = caller(st, Some(&c), headers)?;
    if scope != Scope::City(t.clone()) {
        return Err(forbidden(
            "開示の許可は市町村の管理者のみが扱えます / grants are managed by the city's own admins only",
        ));
    }
    require(&p, action)?;
    Ok((c, p))
}

async fn create_grant(
    State(st): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let (c, p) = for_grants(&st, &tenant, &headers, Action::ManageConfig)?;
    let now = chrono::Utc::now();
    let (reason, expires_at, from, to) = grants::check_request(&body, now)
        .map_err(|e| grant_error(StatusCode::BAD_REQUEST, "bad_grant", e))?;
    let g = blocking(move || {
        c.grants
            .issue(&c.ledger, &p.name, reason, expires_at, from, to)
            .map_err(ledger_unavailable)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"tenant": tenant, "grant": g.to_json(now)})),
    )
        .into_response())
}

async fn list_grants(
    State(st): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (c, _) = for_grants(&st, &tenant, &headers, Action::ReadAdminAudit)?;
    let now = chrono::Utc::now();
    let list: Vec<Value> = c.grants.list().iter().map(|g| g.to_json(now)).collect();
    Ok(axum::Json(json!({"tenant": tenant, "grants": list})).into_response())
}

async fn revoke_grant(
    State(st): State<AppState>,
    UrlPath((tenant, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (c, p) = for_grants(&st, &tenant, &headers, Action::ManageConfig)?;
    let id2 = id.clone();
    let r = blocking(move || Ok(c.grants.revoke(&c.ledger, &p.name, &id2))).await?;
    match r {
        Ok(Some(g)) => Ok(axum::Json(
            json!({"tenant": tenant, "grant": g.to_json(chrono::Utc::now())}),
        )
        .into_response()),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("許可 {id} はありません。"),
            format!("no grant {id}"),
        )),
        Err(e) if e.contains("already revoked") => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_revoked",
            format!("許可 {id} は取り消し済みです。"),
            e,
        )),
        Err(e) => Err(ledger_unavailable(e)),
    }
}

async fn checkpoint(
    State(st): State<AppState>,
    UrlPath(tenant): UrlPath<String>,
) -> Result<Response, ApiError> {
    let (_, c) = city(&st, &tenant)?;
    let cp = c.ledger.checkpoint();
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        cp.note,
    )
        .into_response())
}

/// The tenant-mode HTTP API. See the crate docs for the checks.
///
/// * `POST /t/{tenant}/api/v1/events` — NDJSON, one event per line (ingest role of that city);
///   answers once the city's ledger has them.
/// * `GET /t/{tenant}/api/v1/events?user=&host=&action=&path=&q=&kind=&from=&to=&limit=&cursor=`
/// * `GET /t/{tenant}/api/v1/events/{id}`, `GET /t/{tenant}/api/v1/timeline/{user}`
/// * `GET /t/{tenant}/api/v1/health` — the city or the prefecture (with the city's grant
///   counts)
/// * `POST /t/{tenant}/api/v1/grants` (`{"reason", "expires_at", "from"?, "to"?}`, the city's
///   admin), `GET /t/{tenant}/api/v1/grants` (admin, auditor), `DELETE
///   /t/{tenant}/api/v1/grants/{id}` (admin) — the city opens its event search and single
///   events to the prefecture for a while, ledgered in its own ledger, as is every read the
///   prefecture makes under it ([`grants`])
/// * `GET /prefecture/api/v1/health` — the prefecture only: every city's ledger and index
///   progress and counts, no documents
/// * `GET /t/{tenant}/checkpoint` — the city's signed checkpoint (public), cosigned by the
///   prefecture's witness
/// * `POST /prefecture/witness/add-checkpoint`, `POST /prefecture/witness/rotate-key` — the
///   prefecture as the c2sp tlog-witness of cities on their own box ([`remote`]; public)
///
/// Served by the city's own single-city router under its prefix (the city's tokens only, as
/// in `mamori serve`; see docs/shippers.md for the shippers' settings, with
/// `http://host/t/{tenant}` as the Elasticsearch URL):
///
/// * Elasticsearch-compatible ingest: `POST /t/{tenant}/_bulk`, `/t/{tenant}/{index}/_bulk`,
///   `/t/{tenant}/{index}/_doc` and the probes Beats make (`GET /t/{tenant}/`, `_license`,
///   `_xpack`, templates, ILM, `_nodes`, `_cluster/health`)
/// * the city's streaming detection: `GET /t/{tenant}/api/v1/alerts`, `…/alerts/{id}`,
///   `POST …/alerts/{id}/triage`, `…/close`
/// * `GET /t/{tenant}/api/v1/events/{id}/proof`, `GET /t/{tenant}/tile/…` (tlog-tiles, public),
///   `GET /t/{tenant}/api/v1/quarantine`, `GET /t/{tenant}/api/v1/sources`
/// * the city's web UI: `/t/{tenant}/ui/…` (log in with an account of that city,
///   [`Prefecture::create_user`])
pub fn router(st: Arc<Prefecture>) -> Router {
    let remote = remote::router(st.remote.clone());
    Router::new()
        .route("/t/{tenant}/api/v1/events", get(search).post(ingest))
        .route("/t/{tenant}/api/v1/events/{id}", get(get_event))
        .route("/t/{tenant}/api/v1/timeline/{user}", get(timeline))
        .route("/t/{tenant}/api/v1/health", get(tenant_health))
        .route(
            "/t/{tenant}/api/v1/grants",
            get(list_grants).post(create_grant),
        )
        .route("/t/{tenant}/api/v1/grants/{id}", delete(revoke_grant))
        .route("/t/{tenant}/checkpoint", get(checkpoint))
        .route("/prefecture/api/v1/health", get(prefecture_health))
        .fallback(forward)
        .with_state(st)
        .merge(remote)
}

/// Runs the tenant-mode HTTP server ([`router`]) on `listener` until `shutdown` resolves.
pub async fn serve(
    st: Arc<Prefecture>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(st))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A city's syslog listener started by [`serve_syslog`].
#[derive(Debug, Clone)]
pub struct SyslogListener {
    /// The city whose ledger its messages go to.
    pub tenant: TenantId,
    /// `tcp` (RFC 6587 framing) or `udp` ([`mamori_server::syslog::Protocol::name`]).
    pub proto: &'static str,
    /// The bound address (the actual port when the configuration asked for port 0).
    pub addr: std::net::SocketAddr,
}

/// Starts every city's own syslog listeners, as configured in that city's `config.toml`
/// (`[server] syslog_tcp`, `syslog_udp`; [`set_city_syslog`]), on the current tokio runtime.
/// Each city's set is started by the single-city server's
/// [`mamori_server::syslog::bind_and_serve`] over the city's own state: its messages are
/// parsed, quarantined when unparsable, and appended to that city's ledger only — so they reach
/// that city's index and detection and no other's. A listener that cannot be bound is
/// [`PrefectureError::SyslogListen`] (the city, the protocol, the address and a hint); that
/// city's listeners are then not started, those of the cities before it are (the caller stops).
pub async fn serve_syslog(st: &Prefecture) -> Result<Vec<SyslogListener>, PrefectureError> {
    let mut out = Vec::new();
    for c in st.cities.values() {
        // Syslog over TLS per city is not offered (no per-city certificate): only TCP and UDP.
        let set = mamori_server::syslog::ListenerSet {
            tls: None,
            ..mamori_server::syslog::ListenerSet::from_config(&c.server.cfg.server)
        };
        let bound = mamori_server::syslog::bind_and_serve(&c.server, &set, None)
            .await
            .map_err(|error| PrefectureError::SyslogListen {
                tenant: c.tenant.clone(),
                error,
            })?;
        out.extend(bound.into_iter().map(|b| SyslogListener {
            tenant: c.tenant.clone(),
            proto: b.protocol.name(),
            addr: b.addr,
        }));
    }
    Ok(out)
}

/// Sets city `tenant`'s own syslog listeners in its `config.toml` (`[server] syslog_tcp` /
/// `syslog_udp`; `None` leaves a setting as it is). Addresses must be `IP:PORT`. Taken by the
/// next `serve` ([`serve_syslog`]).
pub fn set_city_syslog(
    root: &Path,
    tenant: &TenantId,
    tcp: Option<&str>,
    udp: Option<&str>,
) -> Result<(), PrefectureError> {
    let d = city_dir(root, tenant);
    let dd = DataDir::new(&d);
    if !dd.exists() {
        return Err(PrefectureError::UnknownCity(tenant.clone()));
    }
    for a in [tcp, udp].into_iter().flatten() {
        a.parse::<std::net::SocketAddr>().map_err(|e| {
            PrefectureError::Syslog(format!(
                "syslog の待受アドレス {a:?} が不正です(IP:ポート)/ invalid syslog listen address {a:?} (IP:PORT): {e}"
            ))
        })?;
    }
    let mut cfg = dd.config().map_err(dd_err(&d))?;
    if let Some(a) = tcp {
        cfg.server.syslog_tcp = Some(a.to_owned());
    }
    if let Some(a) = udp {
        cfg.server.syslog_udp = Some(a.to_owned());
    }
    let text = toml::to_string_pretty(&cfg).map_err(|e| PrefectureError::Syslog(e.to_string()))?;
    let path = dd.config_path();
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, format!("# mamori configuration (see README)\n{text}"))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| PrefectureError::Syslog(format!("{}: {e}", path.display())))?;
    Ok(())
}

/// Whether `method path` (the part after `/t/{tenant}`) is one of the single-city routes served
/// under a city's prefix. Everything else of the single-city API (its SQLite search, admin,
/// cases, directory) is not reachable in tenant mode.
fn forwarded(method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let read = method == Method::GET || method == Method::HEAD;
    match seg.as_slice() {
        [""] => read,
        ["_bulk"] | [_, "_bulk"] | [_, "_doc"] => true,
        ["_license"] | ["_xpack"] | ["_nodes"] | ["_cluster", "health"] => read,
        [
            "_index_template" | "_template" | "_ilm" | "_data_stream",
            ..,
        ] => true,
        ["api", "v1", "alerts"] => read,
        ["api", "v1", "alerts", _] => read,
        ["api", "v1", "alerts", _, "triage" | "close"] => method == Method::POST,
        ["api", "v1", "events", _, "proof"] => read,
        ["api", "v1", "quarantine"] | ["api", "v1", "sources"] => read,
        ["tile", ..] => read,
        // The city's web UI (its own sessions, accounts and pages; see mamori-ui).
        ["ui"] | ["ui", ..] => true,
        _ => false,
    }
}

/// Hands `/t/{tenant}/…` requests of [`forwarded`] routes to that city's single-city router,
/// with the prefix removed.
async fn forward(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "そのような API はありません。",
            "no such API",
        )
        .into_response()
    };
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/t/") else {
        return not_found();
    };
    let (tenant, inner) = match rest.split_once('/') {
        Some((t, r)) => (t.to_owned(), format!("/{r}")),
        None => (rest.to_owned(), "/".to_owned()),
    };
    if !forwarded(req.method(), &inner) {
        return not_found();
    }
    let c = match city(&st, &tenant) {
        Ok((_, c)) => c,
        Err(e) => return e.into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let pq = match parts.uri.query() {
        Some(q) => format!("{inner}?{q}"),
        None => inner,
    };
    parts.uri = match pq.parse() {
        Ok(u) => u,
        Err(_) => return not_found(),
    };
    let req = axum::extract::Request::from_parts(parts, body);
    match c.city_router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    }
}
