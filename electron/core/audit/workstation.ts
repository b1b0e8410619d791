/**
 * Who and where, for audit entries: the host name, and a stable workstation
 * id derived from the OS machine id (hashed, so the raw id never lands in a
 * log that leaves the machine).
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

export type Workstation = Readonly<{ host: string; id: string }>;

let cached: Workstation | undefined;

function machineId(): string {
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
  return `${os.hostname()}/${os.platform()}/${os.arch()}`;
}

export function workstation(): Workstation {
  cached ??= {
    host: os.hostname(),
    id: createHash('sha256').update(`keyhold workstation v1\0${machineId()}`).digest('hex').slice(0, 16),
  };
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
