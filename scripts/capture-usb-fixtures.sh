#!/usr/bin/env bash
# Captures REAL Linux kernel, udev and USBGuard output for USB hot-plug, for the fixtures in
# crates/sources/tests/fixtures/{usb,usbguard}/ (issue #5: fixtures produced by the real program).
#
# How: Debian 12's own kernel (linux-image-*-amd64, unpacked with dpkg -x) boots under QEMU
# (TCG software emulation; ACCEL=kvm where nested KVM works) with a Debian 12 root file system made by debootstrap
# (systemd, systemd-udevd, systemd-journald, rsyslog, usbguard) loaded as the initramfs. QEMU
# emulates an xHCI controller; this script hot-plugs and unplugs USB sticks (usb-storage with
# the serial numbers below), a USB hub and a USB keyboard through QMP (`device_add` /
# `device_del`), while inside the guest `udevadm monitor --kernel --udev --property`,
# rsyslog (imklog -> /var/log/kern.log), journald and, in the second run, usbguard-daemon
# (ImplicitPolicyTarget=block, audit log to a file) and `usbguard watch` record what happened.
# An officer's `usbguard allow-device` lets one stick through. The guest writes its captures
# as a tar archive onto a raw virtio disk, which this script unpacks.
#
# QEMU's usb-storage and usb-kbd have fixed vendor/product IDs and strings (46f4:0001 "QEMU
# QEMU USB HARDDRIVE", 0627:0001 "QEMU USB Keyboard"); only the serial number can be chosen.
#
# Usage (as root; run by hand, CI only reads the committed fixtures):
#   scripts/capture-usb-fixtures.sh            # capture and copy into the fixture dirs
#   WORK=/tmp/x NO_INSTALL=1 scripts/capture-usb-fixtures.sh
# Needs: apt (qemu-system-x86, debootstrap, e2fsprogs, cpio), python3, ~1.5 GiB in $WORK.
# Takes ~4 min on a 2-core machine (debootstrap the first time: a few minutes more): each of
# the two runs boots in 45-150 s under TCG, so no CI test runs it (CI reads the fixtures).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$REPO/target/usb-capture}
FIX=$REPO/crates/sources/tests/fixtures
ROOTFS=$WORK/rootfs
mkdir -p "$WORK"
cd "$WORK"

log() { printf '[capture-usb] %s\n' "$*" >&2; }

# 1. Packages on the host.
if [ -z "${NO_INSTALL:-}" ]; then
  need=()
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v cpio >/dev/null || need+=(cpio)
  command -v mke2fs >/dev/null || need+=(e2fsprogs)
  command -v python3 >/dev/null || need+=(python3)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  fi
fi

# 2. Debian's kernel, the version linux-image-amd64 depends on.
KVER=${KVER:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { sub("linux-image-", "", $2); print $2; exit }')}
[ -n "$KVER" ] || { log "cannot find the kernel version (apt-get update first?)"; exit 1; }
if [ ! -f "kernel/boot/vmlinuz-$KVER" ]; then
  log "downloading linux-image-$KVER"
  rm -f linux-image-"$KVER"_*.deb
  apt-get download "linux-image-$KVER"
  rm -rf kernel && mkdir kernel && dpkg -x linux-image-"$KVER"_*.deb kernel
fi
KDEB_VERSION=$(dpkg-deb -f linux-image-"$KVER"_*.deb Version)

# 3. A Debian 12 root file system with systemd, udev, rsyslog and usbguard.
if [ ! -f "$ROOTFS/.mamori-debootstrap-done" ]; then
  MIRROR=${MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
  [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list)
  log "debootstrap bookworm into $ROOTFS from $MIRROR"
  rm -rf "$ROOTFS"
  debootstrap --variant=minbase --include=systemd-sysv,udev,rsyslog,usbguard,kmod,procps bookworm "$ROOTFS" "$MIRROR"
  touch "$ROOTFS/.mamori-debootstrap-done"
fi

# The kernel's modules inside the guest (udev loads xhci-pci, usb-storage, usbhid … itself).
rm -rf "$ROOTFS/lib/modules"
mkdir -p "$ROOTFS/lib/modules"
cp -a "kernel/lib/modules/$KVER" "$ROOTFS/lib/modules/"
# Only what an xHCI bus, USB storage/HID, SCSI disks, virtio and ext4 need: keeps the
# initramfs small.
(cd "$ROOTFS/lib/modules/$KVER/kernel" && rm -rf sound net drivers/{net,gpu,media,infiniband,iio,staging,hwmon,md,comedi,platform,isdn,mtd,bluetooth,misc,mfd,power,thermal,edac,leds,video,crypto,nvme,target,firewire,pcmcia,mmc,spi,i2c,w1,ntb,gnss,fpga,rtc,acpi,regulator,pinctrl,watchdog,dma,soundwire,vdpa,vhost,xen,hv,uio,vfio,pps,ptp,atm,accel,iommu,memstick,mux,nfc,parport,ssb,bcma,dca,extcon,firmware,counter,most,siox,slimbus,gpio,auxdisplay,clk,connector,dax,nvdimm,pwm,phy,ipack,hsi,uwb,tty/serial/8250,peci})
chroot "$ROOTFS" /sbin/depmod "$KVER"

echo usb-capture-guest > "$ROOTFS/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 usb-capture-guest\n' > "$ROOTFS/etc/hosts"
: > "$ROOTFS/etc/machine-id"
# No login prompts on the serial lines; the capture service drives the guest.
ln -sf /dev/null "$ROOTFS/etc/systemd/system/serial-getty@.service"
ln -sf /dev/null "$ROOTFS/etc/systemd/system/getty@.service"
# usbguard is started by the capture script in the usbguard run only.
rm -f "$ROOTFS"/etc/systemd/system/*.target.wants/usbguard*.service "$ROOTFS/etc/systemd/system/dbus-org.usbguard.service"

cat > "$ROOTFS/etc/usbguard/usbguard-daemon.conf" <<'EOF'
# mamori capture: the configuration docs/sources/usb.md tells a city to use.
RuleFile=/etc/usbguard/rules.conf
ImplicitPolicyTarget=block
PresentDevicePolicy=apply-policy
PresentControllerPolicy=keep
InsertedDevicePolicy=apply-policy
AuthorizedDefault=none
RestoreControllerDeviceState=false
DeviceManagerBackend=uevent
IPCAllowedUsers=root
IPCAllowedGroups=
DeviceRulesWithPort=false
AuditBackend=FileAudit
AuditFilePath=/var/log/usbguard/usbguard-audit.log
HidePII=false
EOF
# Only the xHCI root hubs are in the register; every stick and keyboard is blocked until an
# officer allows it.
printf 'allow id 1d6b:0002\nallow id 1d6b:0003\n' > "$ROOTFS/etc/usbguard/rules.conf"
chmod 600 "$ROOTFS/etc/usbguard/rules.conf" "$ROOTFS/etc/usbguard/usbguard-daemon.conf"

# Debian 12's rsyslog writes /var/log/kern.log with RFC 3339 stamps (RSYSLOG_FileFormat);
# many cities' servers still use the traditional format: write that too, from the same imklog.
cat > "$ROOTFS/etc/rsyslog.d/60-mamori-traditional.conf" <<'EOF'
kern.* action(type="omfile" file="/var/log/kern-traditional.log" template="RSYSLOG_TraditionalFileFormat")
EOF

cat > "$ROOTFS/usr/local/sbin/mamori-capture" <<'EOF'
#!/bin/bash
# Runs inside the guest: records udev/usbguard, obeys the host's commands on /dev/ttyS1.
set -u
mode=$(sed -n 's/.*mamori\.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
out=/root/out
mkdir -p "$out"
stty -F /dev/ttyS1 raw -echo 115200
exec 3<>/dev/ttyS1
udevadm settle
pids=()
if [ "$mode" = usbguard ]; then
  systemctl start usbguard.service
  for _ in $(seq 100); do usbguard list-devices >/dev/null 2>&1 && break; sleep 0.1; done
  usbguard watch > "$out/usbguard-watch.txt" 2>&1 &
  pids+=($!)
fi
udevadm monitor --kernel --udev --property > "$out/udevadm-monitor.txt" 2>&1 &
pids+=($!)
sleep 1
echo "MAMORI-READY $mode" >&3
while read -r cmd a b <&3; do
  case "$cmd" in
    settle) udevadm settle; sleep 2; udevadm settle ;;
    allow)
      id=$(usbguard list-devices | grep "serial \"$a\"" | head -n1 | cut -d: -f1)
      usbguard allow-device "$id"
      udevadm settle; sleep 1 ;;
    mount)
      dev=
      for _ in $(seq 300); do
        dev=$(ls /dev/disk/by-id/usb-*"$a"* 2>/dev/null | grep -v part | head -n1)
        [ -n "$dev" ] && break
        sleep 0.2
      done
      udevadm settle
      mkdir -p "/media/$b"
      mount "$dev" "/media/$b" && { date > "/media/$b/written-by-guest.txt"; sync; umount "/media/$b"; }
      sleep 1 ;;
    done)
      sleep 1
      kill "${pids[@]}" 2>/dev/null
      wait
      [ "$mode" = usbguard ] && systemctl stop usbguard.service
      systemctl stop rsyslog.service
      journalctl --sync 2>/dev/null
      dmesg > "$out/dmesg.txt"
      journalctl -k -o json > "$out/journal-kernel.json"
      journalctl -k -o short-precise > "$out/journal-kernel-short.txt"
      cp /var/log/kern.log "$out/kern.log"
      cp /var/log/kern-traditional.log "$out/kern-traditional.log"
      [ -f /var/log/usbguard/usbguard-audit.log ] && cp /var/log/usbguard/usbguard-audit.log "$out/usbguard-audit.log"
      uname -a > "$out/uname.txt"
      dpkg-query -W systemd udev rsyslog usbguard > "$out/guest-packages.txt"
      tar -C "$out" -cf /dev/vda .
      sync
      echo "ok done" >&3
      poweroff -f ;;
    *) echo "unknown $cmd" >&3; continue ;;
  esac
  echo "ok $cmd" >&3
done
EOF
chmod 755 "$ROOTFS/usr/local/sbin/mamori-capture"
cat > "$ROOTFS/etc/systemd/system/mamori-capture.service" <<'EOF'
[Unit]
Description=mamori USB capture
After=systemd-udevd.service rsyslog.service systemd-journald.service systemd-udev-trigger.service
Wants=rsyslog.service

[Service]
Type=simple
ExecStart=/usr/local/sbin/mamori-capture
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/mamori-capture.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/mamori-capture.service"

log "packing the initramfs"
(cd "$ROOTFS" && find . -xdev ! -path ./.mamori-debootstrap-done ! -path './usr/share/doc/*' ! -path './usr/share/man/*' ! -path './usr/share/locale/*' ! -path './var/cache/apt/*' ! -path './var/lib/apt/lists/*'  | cpio -o -H newc --quiet) > initrd.cpio

# TCG by default: on this project's machines (themselves VMs) /dev/kvm opens but the guest
# kernel hangs right after decompression under nested KVM. ACCEL=kvm to try it elsewhere.
ACCEL=${ACCEL:-tcg}
QEMU_VERSION=$(qemu-system-x86_64 --version | head -n1)

run() { # mode
  local mode=$1 dir=$WORK/run-$1
  rm -rf "$dir" && mkdir -p "$dir"
  for s in stick1 stick2; do
    truncate -s 32M "$dir/$s.img"
    mke2fs -q -t ext4 -L "${s^^}" "$dir/$s.img"
  done
  truncate -s 64M "$dir/out.img"
  log "booting $KVER under QEMU ($ACCEL), run '$mode'"
  qemu-system-x86_64 -machine q35,accel=$ACCEL -m 3072 -smp 1 -nographic -no-reboot \
    -kernel "kernel/boot/vmlinuz-$KVER" -initrd initrd.cpio \
    -append "rdinit=/sbin/init console=ttyS0 loglevel=6 mamori.mode=$mode systemd.show_status=0" \
    -serial "file:$dir/console.log" \
    -chardev "socket,id=ctl,path=$dir/ctl.sock,server=on,wait=off" -device isa-serial,chardev=ctl \
    -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
    -drive "if=none,id=out,file=$dir/out.img,format=raw" -device virtio-blk-pci,drive=out \
    -drive "if=none,id=d1,file=$dir/stick1.img,format=raw" \
    -drive "if=none,id=d2,file=$dir/stick2.img,format=raw" \
    -device qemu-xhci,id=xhci \
    -monitor none -display none &
  local qpid=$!
  # Never leave the guest running if the driver below fails.
  trap "kill $qpid 2>/dev/null || true" EXIT
  python3 - "$dir" "$mode" <<'PY'
import json, os, socket, sys, time
d, mode = sys.argv[1], sys.argv[2]
def connect(p):
    for _ in range(300):
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(p); return s
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no socket {p}")
qmp = connect(f"{d}/qmp.sock"); qf = qmp.makefile("rw")
ctl = connect(f"{d}/ctl.sock"); cf = ctl.makefile("rw")
# Booting under TCG on a busy 2-core machine takes 45-150 s; no step may hang for ever.
qmp.settimeout(900); ctl.settimeout(900)
json.loads(qf.readline())
def qmp_cmd(name, **args):
    qf.write(json.dumps({"execute": name, "arguments": args}) + "\n"); qf.flush()
    while True:
        m = json.loads(qf.readline())
        if "return" in m: return m
        if "error" in m: raise SystemExit(f"QMP {name} {args}: {m}")
def wait_event(ev, dev):
    while True:
        m = json.loads(qf.readline())
        if m.get("event") == ev and m.get("data", {}).get("device") == dev: return
def guest(line):
    cf.write(line + "\n"); cf.flush()
    want = "ok " + line.split()[0]
    while True:
        r = cf.readline()
        if not r: raise SystemExit("guest closed the control line")
        if r.strip() == want: return
        print("guest:", r.strip(), file=sys.stderr)
qmp_cmd("qmp_capabilities")
t0 = time.time()
while True:
    r = cf.readline()
    if not r: raise SystemExit("control line closed before the guest was ready")
    if r.startswith("MAMORI-READY"): break
    if time.time() - t0 > 600: raise SystemExit("guest never became ready")
print(f"guest ready after {time.time()-t0:.1f}s", file=sys.stderr)
S1, S2 = "4C530001231121115322", "AA00000000001166"
def plug(id, driver, **p):
    qmp_cmd("device_add", driver=driver, id=id, bus="xhci.0", **p); guest("settle")
def unplug(id):
    qmp_cmd("device_del", id=id); wait_event("DEVICE_DELETED", id); guest("settle")
if mode == "kernel":
    plug("stick1", "usb-storage", port="1", drive="d1", serial=S1, removable=True)
    guest(f"mount {S1} STICK1")
    plug("hub", "usb-hub", port="2")
    plug("stick2", "usb-storage", port="2.1", drive="d2", serial=S2, removable=True)
    plug("kbd", "usb-kbd", port="3")
    unplug("stick1"); unplug("kbd"); unplug("stick2")
else:
    plug("stick1", "usb-storage", port="1", drive="d1", serial=S1, removable=True)
    plug("stick2", "usb-storage", port="2", drive="d2", serial=S2, removable=True)
    guest(f"allow {S2}")
    guest(f"mount {S2} STICK2")
    plug("kbd", "usb-kbd", port="3")
    unplug("stick1"); unplug("kbd"); unplug("stick2")
cf.write("done\n"); cf.flush()
print(f"scenario done after {time.time()-t0:.1f}s", file=sys.stderr)
PY
  wait "$qpid" || true
  trap - EXIT
  mkdir -p "$dir/out"
  tar -C "$dir/out" -xf "$dir/out.img"
  log "run '$mode': $(ls "$dir/out" | tr '\n' ' ')"
}

for m in ${MODES:-kernel usbguard}; do run "$m"; done

if [ -z "${NO_COPY:-}" ]; then
  K=$WORK/run-kernel/out G=$WORK/run-usbguard/out
  mkdir -p "$FIX/usb/qemu" "$FIX/usbguard/qemu"
  for f in kern.log kern-traditional.log dmesg.txt journal-kernel.json udevadm-monitor.txt; do
    cp "$K/$f" "$FIX/usb/qemu/$f"
    cp "$G/$f" "$FIX/usbguard/qemu/$f"
  done
  cp "$G/usbguard-audit.log" "$G/usbguard-watch.txt" "$FIX/usbguard/qemu/"
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "guest kernel: Debian linux-image-$KVER $KDEB_VERSION ($(cat "$K/uname.txt"))"
    echo "guest packages: $(tr '\t\n' '= ' < "$K/guest-packages.txt")"
    echo "qemu: $QEMU_VERSION, accel=$ACCEL"
    echo "command: scripts/capture-usb-fixtures.sh"
  } | tee "$FIX/usb/qemu/CAPTURE.txt" > "$FIX/usbguard/qemu/CAPTURE.txt"
  log "copied into $FIX/usb/qemu and $FIX/usbguard/qemu"
fi
