//! USB媒体台帳: the registered removable media as ledgered (`mamori usb-import`), each with its
//! holder, status and dates. Read-only here: the register is changed by importing the city's
//! 管理台帳 (ledgered).

use axum::extract::State;
use maud::{Markup, html};
use mamori_directory::Owner;
use mamori_server::AppState;

use crate::layout::{self, notice};
use crate::{Auth, UiError, dates, nav};

/// `GET /ui/usb`.
pub async fn page(State(st): State<AppState>, auth: Auth) -> Result<Markup, UiError> {
    auth.require_page(&nav::USB)?;
    let lang = auth.lang;
    let st2 = st.clone();
    let (reg, dir) = tokio::task::spawn_blocking(move || -> Result<_, UiError> {
        let reg = st2.dir.usb_registry().map_err(|e| UiError::internal(lang, e))?;
        let dir = mamori_server::datadir::directory_from(&st2.reader.lock().unwrap()).map_err(|e| UiError::internal(lang, e))?;
        Ok((reg, dir))
    })
    .await
    .map_err(|e| UiError::internal(lang, e))??;
    let today = dates::today();
    let owner = |o: &Owner| match o {
        Owner::Person(id) => match dir.person(id, today) {
            Some(p) => format!("{} ({} {id})", p.name, lang.t("職員", "staff")),
            None => format!("{} {id}", lang.t("職員", "staff")),
        },
        Owner::Department(code) => format!("{} {code}", lang.t("所属", "department")),
    };
    let body = html! {
        @if reg.is_empty() { (notice("info", auth.t("USB管理台帳がまだ取り込まれていません(mamori usb-import)。", "No USB register imported yet (mamori usb-import)."))) }
        @else {
            p { (auth.t("登録媒体: ", "Registered devices: ")) strong #usb-count { (reg.len()) } }
            table #usb {
                thead { tr {
                    th scope="col" { (auth.t("管理番号", "Reg. no.")) } th scope="col" { (auth.t("種別", "Kind")) } th scope="col" { "VID:PID" } th scope="col" { (auth.t("シリアル", "Serial")) }
                    th scope="col" { (auth.t("所有者", "Holder")) } th scope="col" { (auth.t("状態", "Status")) } th scope="col" { (auth.t("登録日", "Registered")) } th scope="col" { (auth.t("状態変更日", "Status since")) } th scope="col" { (auth.t("備考", "Note")) }
                } }
                tbody {
                    @for d in reg.devices() {
                        tr {
                            td { (d.registration_id) } td { (d.kind.label()) } td { code { (d.vendor_id) ":" (d.product_id) } } td { code { (d.serial) } }
                            td { (owner(&d.owner)) } td { (d.status.label()) } td { (dates::date(d.registered_on, lang, auth.cal)) } td { (dates::date(d.status_changed_on, lang, auth.cal)) } td { (d.note) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&auth, ("USB媒体台帳", "USB media register"), body))
}
