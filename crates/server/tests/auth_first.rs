//! Authentication comes before anything else looks at the request: a caller without valid
//! credentials learns nothing from parameter validation (401, not 400); and a witness that
//! requires tokens refuses unauthenticated add-checkpoint requests.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_without_credentials_are_401_and_with_them_400() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = init(tmp.path(), "auth-first.example/log", None);
    // require_token on the witness role.
    let dir = mamori_server::DataDir::new(tmp.path());
    let mut cfg = dir.config().unwrap();
    cfg.witness.enabled = true;
    cfg.witness.require_token = true;
    std::fs::write(dir.config_path(), toml::to_string_pretty(&cfg).unwrap()).unwrap();
    let srv = start(tmp.path()).await;
    let (_, viewer) = srv.token(&admin, "v", "viewer").await;
    let (_, auditor) = srv.token(&admin, "a", "auditor").await;
    let (_, witness) = srv.token(&admin, "w", "witness").await;
    for (path, token) in [
        ("/api/v1/events?limit=notanumber", &viewer),
        ("/api/v1/events/notanid", &viewer),
        ("/api/v1/events/notanid/proof", &viewer),
        ("/api/v1/timeline/tanaka?limit=-1", &viewer),
        ("/api/v1/quarantine?pending=maybe", &auditor),
        ("/api/v1/admin/audit?limit=x", &auditor),
    ] {
        let (status, body) = srv.req("GET", path, None, None).await;
        assert_eq!(status, 401, "{path} without credentials: {body}");
        let (status, body) = srv.req("GET", path, Some(token), None).await;
        assert_eq!(status, 400, "{path} with credentials: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{body}");
    }
    let (status, _) = srv.req("POST", "/add-checkpoint", None, Some(b"old 0\n\n".to_vec())).await;
    assert_eq!(status, 401, "require_token: no token, no cosigning");
    let (status, _) = srv.req("POST", "/add-checkpoint", Some(&viewer), Some(b"old 0\n\n".to_vec())).await;
    assert_eq!(status, 403, "only the witness role may submit");
    let (status, _) = srv.req("POST", "/add-checkpoint", Some(&witness), Some(b"old 0\n\n".to_vec())).await;
    assert_eq!(status, 400, "a witness token gets through to the (malformed) request itself");
    srv.stop().await;
}
