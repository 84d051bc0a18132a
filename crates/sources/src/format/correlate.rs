//! State carried across the lines of one syslog / journald input (a file, one connection):
//! slapd operations ([`SlapdCorrelator`]) and USB devices ([`UsbCorrelator`]). Per-line
//! parsing stays in the format modules; this only completes a line from earlier ones.

use serde_json::{Map, Value};

pub use super::auth::SlapdCorrelator;
pub use super::kernel_usb::UsbCorrelator;

/// All line correlators, applied in turn to each parsed document in input order.
#[derive(Debug, Default)]
pub struct LineCorrelator {
    /// slapd `conn=`/`op=` state.
    pub slapd: SlapdCorrelator,
    /// Kernel USB device state.
    pub usb: UsbCorrelator,
}

impl LineCorrelator {
    /// Completes `doc` from earlier lines and remembers what it says.
    pub fn observe(&mut self, doc: &mut Map<String, Value>) {
        self.slapd.observe(doc);
        self.usb.observe(doc);
    }
}
