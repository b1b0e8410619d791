/**
 * Who and where, for audit entries: the host name, and a stable workstation
 * id derived from the OS machine id (hashed, so the raw id never lands in a
 * log that leaves the machine).
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

export type Workstation = Readonly<{ host: string; id: string }>;

// The last answer of workstation(), for the host name it was made for: an
// audit entry asks each time, and reading and hashing the machine id costs
// far more than asking the host name.
let cached: Workstation | undefined;

function machineId(host: string): string {
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const v = fs.readFileSync(f, 'utf8').trim();
      if (v) return v;
    } catch {
      // not on this platform
    }
  }
  // No machine id (macOS, Windows without a helper): the host name and
  // platform still name the machine stably enough for an audit trail.
  return `${host}/${os.platform()}/${os.arch()}`;
}

// os.hostname() is a system call (several µs: a fifth of a key's creation in a
// 100,000-key batch when asked per audit entry), so it is asked at most once a
// second; a rename shows in the entries from then on.
const HOST_RECHECK_MS = 1000;
let hostAskedAt = -Infinity;
let hostName = '';

function currentHost(): string {
  const now = performance.now();
  if (now - hostAskedAt >= HOST_RECHECK_MS) {
    hostName = os.hostname();
    hostAskedAt = now;
  }
  return hostName;
}

/**
 * This machine's host name and workstation id. The answer is kept for the
 * host name it was made for (one entry): renamed while Keyhold runs, the
 * machine is named afresh in the entries that follow (within a second). `host`
 * is the host name to describe (os.hostname() unless a test names another).
 */
export function workstation(host: string = currentHost()): Workstation {
  if (cached?.host !== host) {
    cached = Object.freeze({
      host,
      id: createHash('sha256').update(`keyhold workstation v1\0${machineId(host)}`).digest('hex').slice(0, 16),
    });
  }
  return cached;
}

/** The operator named by --operator / KEYHOLD_OPERATOR, else the OS user. */
export function defaultActor(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
