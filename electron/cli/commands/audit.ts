/** `keyhold audit ...`: the hash-chained audit log (docs/cli.md 3.33-3.36). */

import { AUDIT_ACTIONS } from '../../core/audit/actions.js';
import { defined, engine, intOption, out, withVault, type Globals, type Program } from '../common.js';
import { esc, formatAudit, formatVerify } from '../output.js';
import { confirm } from '../prompt.js';

export function auditCommands(program: Program, g: Globals): void {
  const audit = program.command('audit').description('the hash-chained audit log');
  audit.command('list').description('entries, oldest first, a page at a time')
    .option('--key <id>', 'entries about this key (its id or service/environment/name)')
    .option('--action <action>', `entries of this action: ${AUDIT_ACTIONS.join(', ')}`)
    .option('--actor <name>', 'entries by this actor')
    .option('--since <time>', 'at or after this ISO 8601 time')
    .option('--until <time>', 'before this ISO 8601 time')
    .option('--after <seq>', 'entries after this sequence number (the "next" of the previous page)')
    .option('--limit <N>', 'entries per page (default 100, at most 10000)')
    .action(async function auditListAction(o) {
      const after = intOption(o.after, '--after');
      const limit = intOption(o.limit, '--limit');
      await withVault(g(), async (svc) => {
        const r = await svc.call('audit.list', defined({
          key: o.key, action: o.action, actor: o.actor, since: o.since, until: o.until, after, limit,
        }));
        out<'audit.list'>(g(), r, formatAudit);
      });
    });
  audit.command('verify').description('recompute the chain and report the first broken link')
    .option('--file <file>', 'verify an exported file instead of the vault (no passphrase needed)')
    .action(async function auditVerifyAction(o) {
      const report = o.file !== undefined
        ? (await engine()).verifyAuditFile(o.file)
        : await withVault(g(), (svc) => svc.call('audit.verify', {}));
      out<'audit.verify'>(g(), report, formatVerify);
      if (!report.ok) process.exitCode = 5;
    });
  audit.command('export').description('write the log as JSON lines for archival (atomically)')
    .requiredOption('--out <file>', 'the file to write, a new one (never overwritten; not a link)')
    .action(async function auditExportAction(o) {
      await withVault(g(), async (svc) => {
        const r = await svc.call('audit.export', { out: o.out });
        out<'audit.export'>(g(), r, (x) => `Exported ${x.entries} entries to ${esc(x.path)} (head ${x.head.seq} ${x.head.hash}).`);
      });
    });
  audit.command('recover').description('after entries were cut off the end of the log (AUDIT_TRUNCATED): record the loss in an audited entry and continue from the last intact entry')
    .requiredOption('--reason <text>', 'why (recorded in the entry), e.g. "disk fault on 2027-03-02, no backup newer than the cut"')
    .option('--yes', 'do not ask for confirmation (for scripts)')
    .action(async function auditRecoverAction(o) {
      await withVault(g(), async (svc) => {
        // The state is read first, so that a vault with nothing to recover (or damage recovery cannot mend) says so without asking.
        const report = await svc.call('audit.verify', {});
        const missing = report.firstBroken;
        if (missing && /missing \(the log was cut short/.test(missing.reason)) {
          await confirm(`The audit log lost entries ${missing.seq} to ${report.head.seq}. Recovering records that loss ` +
            `and continues the log from entry ${missing.seq - 1}; the lost entries cannot be brought back this way (a backup can). Go ahead?`,
          { yes: o.yes });
        }
        const r = await svc.call('audit.recover', { reason: o.reason });
        out<'audit.recover'>(g(), r, (x) => `Recovered the audit log: entries ${x.missing.from} to ${x.missing.to} are recorded as lost ` +
          `(old head ${x.oldHead.seq} ${x.oldHead.hash}); the log continues from entry ${x.newHead.seq}, new head ${x.head.seq} ${x.head.hash}.`);
      });
    });
}
