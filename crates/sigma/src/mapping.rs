//! Logsource → Windows channel/EventID table, and Sigma field → event field mapping.
//!
//! The logsource table follows pySigma's Windows pipelines (`windows_logsource_pipeline`,
//! `windows_audit_pipeline`) and the Sysmon event numbering; it is the one in `docs/sigma.md`.

/// Sysmon's channel.
pub const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
/// The Security channel.
pub const SECURITY: &str = "Security";

/// One way a logsource can be satisfied: a channel, optionally restricted to event IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSel {
    /// Channel name as Windows writes it.
    pub channel: &'static str,
    /// Event IDs (empty: any).
    pub event_ids: &'static [u32],
}

const fn sel(channel: &'static str, event_ids: &'static [u32]) -> ChannelSel {
    ChannelSel { channel, event_ids }
}

/// Channels and event IDs that a Windows `category` means.
pub fn windows_category(category: &str) -> Option<Vec<ChannelSel>> {
    let s = |ids: &'static [u32]| vec![sel(SYSMON, ids)];
    Some(match category {
        "process_creation" => vec![sel(SYSMON, &[1]), sel(SECURITY, &[4688])],
        "file_change" => s(&[2]),
        "network_connection" => vec![sel(SYSMON, &[3]), sel(SECURITY, &[5156])],
        "sysmon_status" => s(&[4, 16]),
        "process_termination" => vec![sel(SYSMON, &[5]), sel(SECURITY, &[4689])],
        "driver_load" => s(&[6]),
        "image_load" => s(&[7]),
        "create_remote_thread" => s(&[8]),
        "raw_access_thread" => s(&[9]),
        "process_access" => s(&[10]),
        "file_event" => s(&[11]),
        "registry_add" | "registry_delete" => s(&[12]),
        "registry_set" => s(&[13]),
        "registry_rename" => s(&[14]),
        "registry_event" => s(&[12, 13, 14]),
        "create_stream_hash" => s(&[15]),
        "pipe_created" => s(&[17, 18]),
        "wmi_event" => s(&[19, 20, 21]),
        "dns_query" => s(&[22]),
        "file_delete" => s(&[23, 26]),
        "clipboard_capture" => s(&[24]),
        "process_tampering" => s(&[25]),
        "file_delete_detected" => s(&[26]),
        "file_block_executable" => s(&[27]),
        "file_block_shredding" => s(&[28]),
        "file_executable_detected" => s(&[29]),
        "sysmon_error" => s(&[255]),
        "ps_module" => vec![sel("Microsoft-Windows-PowerShell/Operational", &[4103])],
        "ps_script" => vec![sel("Microsoft-Windows-PowerShell/Operational", &[4104])],
        "ps_classic_start" => vec![sel("Windows PowerShell", &[400])],
        "ps_classic_provider_start" => vec![sel("Windows PowerShell", &[600])],
        "ps_classic_script" => vec![sel("Windows PowerShell", &[800])],
        _ => return None,
    })
}

/// Channels that a Windows `service` means.
pub fn windows_service(service: &str) -> Option<Vec<ChannelSel>> {
    let one = |c: &'static str| vec![sel(c, &[])];
    Some(match service {
        "security" => one(SECURITY),
        "system" => one("System"),
        "application" => one("Application"),
        "sysmon" => one(SYSMON),
        "powershell" => one("Microsoft-Windows-PowerShell/Operational"),
        "powershell-classic" => one("Windows PowerShell"),
        "taskscheduler" => one("Microsoft-Windows-TaskScheduler/Operational"),
        "wmi" => one("Microsoft-Windows-WMI-Activity/Operational"),
        "dns-server" => one("DNS Server"),
        "dns-server-analytic" => one("Microsoft-Windows-DNSServer/Analytical"),
        "dns-client" => one("Microsoft-Windows-DNS Client Events/Operational"),
        "driver-framework" => one("Microsoft-Windows-DriverFrameworks-UserMode/Operational"),
        "ntlm" => one("Microsoft-Windows-NTLM/Operational"),
        "windefend" => one("Microsoft-Windows-Windows Defender/Operational"),
        "firewall-as" => one("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"),
        "bits-client" => one("Microsoft-Windows-Bits-Client/Operational"),
        "codeintegrity-operational" => one("Microsoft-Windows-CodeIntegrity/Operational"),
        "applocker" => vec![
            sel("Microsoft-Windows-AppLocker/MSI and Script", &[]),
            sel("Microsoft-Windows-AppLocker/EXE and DLL", &[]),
            sel("Microsoft-Windows-AppLocker/Packaged app-Deployment", &[]),
            sel("Microsoft-Windows-AppLocker/Packaged app-Execution", &[]),
        ],
        "terminalservices-localsessionmanager" => {
            one("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational")
        }
        "msexchange-management" => one("MSExchange Management"),
        "printservice-admin" => one("Microsoft-Windows-PrintService/Admin"),
        "printservice-operational" => one("Microsoft-Windows-PrintService/Operational"),
        "smbclient-security" => one("Microsoft-Windows-SmbClient/Security"),
        "smbclient-connectivity" => one("Microsoft-Windows-SmbClient/Connectivity"),
        "smbserver-connectivity" => one("Microsoft-Windows-SMBServer/Connectivity"),
        "openssh" => one("OpenSSH/Operational"),
        "ldap" => one("Microsoft-Windows-LDAP-Client/Debug"),
        "lsa-server" => one("Microsoft-Windows-LSA/Operational"),
        "security-mitigations" => vec![
            sel("Microsoft-Windows-Security-Mitigations/Kernel Mode", &[]),
            sel("Microsoft-Windows-Security-Mitigations/User Mode", &[]),
        ],
        "diagnosis-scripted" => one("Microsoft-Windows-Diagnosis-Scripted/Operational"),
        "shell-core" => one("Microsoft-Windows-Shell-Core/Operational"),
        "appxdeployment-server" => one("Microsoft-Windows-AppXDeploymentServer/Operational"),
        "appxpackaging-om" => one("Microsoft-Windows-AppxPackaging/Operational"),
        "capi2" => one("Microsoft-Windows-CAPI2/Operational"),
        "certificateservicesclient-lifecycle-system" => {
            one("Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational")
        }
        "appmodel-runtime" => one("Microsoft-Windows-AppModel-Runtime/Admin"),
        "microsoft-servicebus-client" => one("Microsoft-ServiceBus-Client"),
        "iis-configuration" => one("Microsoft-IIS-Configuration/Operational"),
        "vhdmp" => one("Microsoft-Windows-VHDMP/Operational"),
        "kernel-shimengine" => one("Microsoft-Windows-Kernel-ShimEngine/Operational"),
        "bitlocker" => one("Microsoft-Windows-BitLocker/BitLocker Management"),
        "ntfs" => one("Microsoft-Windows-Ntfs/Operational"),
        "hyper-v-worker" => one("Microsoft-Windows-Hyper-V-Worker"),
        _ => return None,
    })
}

/// Field aliases applied to raw events of one (channel, EventID): the Sigma (Sysmon) name and
/// the event's own field. Security 4688/4689 and 5156 carry the same facts as Sysmon 1/5/3
/// under other names (pySigma's `windows_audit_pipeline` does the same renames).
pub fn event_aliases(channel: &str, event_id: u32) -> &'static [(&'static str, &'static str)] {
    if !channel.eq_ignore_ascii_case(SECURITY) {
        return &[];
    }
    match event_id {
        4688 => &[
            ("Image", "NewProcessName"),
            ("ParentImage", "ParentProcessName"),
            ("ProcessId", "NewProcessId"),
            ("ParentProcessId", "ProcessId"),
            ("User", "SubjectUserName"),
            ("LogonId", "SubjectLogonId"),
            ("IntegrityLevel", "MandatoryLabel"),
        ],
        4689 => &[("Image", "ProcessName"), ("User", "SubjectUserName"), ("LogonId", "SubjectLogonId")],
        5156 => &[
            ("Image", "Application"),
            ("DestinationIp", "DestAddress"),
            ("DestinationPort", "DestPort"),
            ("SourceIp", "SourceAddress"),
            ("SourcePort", "SourcePort"),
            ("Protocol", "Protocol"),
        ],
        _ => &[],
    }
}

/// Sigma field → ECS path, for ECS documents that are not from Windows event logs (or whose
/// `winlog.event_data` lacks the field). Rules may also name ECS paths directly (`process.name`).
pub const ECS_FIELDS: &[(&str, &str)] = &[
    ("EventID", "winlog.event_id"),
    ("Channel", "winlog.channel"),
    ("Provider_Name", "winlog.provider_name"),
    ("Computer", "host.name"),
    ("ComputerName", "host.name"),
    ("Hostname", "host.name"),
    ("Image", "process.executable"),
    ("CommandLine", "process.command_line"),
    ("ProcessId", "process.pid"),
    ("ProcessGuid", "process.entity_id"),
    ("CurrentDirectory", "process.working_directory"),
    ("OriginalFileName", "process.pe.original_file_name"),
    ("Product", "process.pe.product"),
    ("Company", "process.pe.company"),
    ("Description", "process.pe.description"),
    ("ParentImage", "process.parent.executable"),
    ("ParentCommandLine", "process.parent.command_line"),
    ("ParentProcessId", "process.parent.pid"),
    ("ParentProcessGuid", "process.parent.entity_id"),
    ("User", "user.name"),
    ("SubjectUserName", "user.name"),
    ("TargetUserName", "user.target.name"),
    ("LogonId", "winlog.logon.id"),
    ("LogonType", "winlog.logon.type"),
    ("TargetFilename", "file.path"),
    ("ObjectName", "file.path"),
    ("ShareName", "file.share"),
    ("RelativeTargetName", "file.path"),
    ("ImageLoaded", "file.path"),
    ("TargetObject", "registry.path"),
    ("Details", "registry.data.strings"),
    ("SourceIp", "source.ip"),
    ("IpAddress", "source.ip"),
    ("SourcePort", "source.port"),
    ("IpPort", "source.port"),
    ("SourceHostname", "source.domain"),
    ("WorkstationName", "source.domain"),
    ("DestinationIp", "destination.ip"),
    ("DestinationPort", "destination.port"),
    ("DestinationHostname", "destination.domain"),
    ("Protocol", "network.transport"),
    ("QueryName", "dns.question.name"),
    ("Hashes", "process.hash.sha256"),
    ("ServiceName", "service.name"),
    ("ImagePath", "service.executable"),
    ("ScriptBlockText", "powershell.file.script_block_text"),
    ("c-uri", "url.original"),
    ("cs-method", "http.request.method"),
    ("cs-user-agent", "user_agent.original"),
    ("sc-status", "http.response.status_code"),
];
