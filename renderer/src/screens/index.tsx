/** Which component shows each area of the unlocked vault (ids and order: registry.ts). */
import type { ReactElement } from 'react';
import { missingCase } from '../../../shared/errors';
import { KeysScreen } from '../components/KeysScreen';
import { AuditScreen } from './audit/AuditScreen';
import { BundlesScreen } from './bundles/BundlesScreen';
import { CeremonyScreen } from './ceremony/CeremonyScreen';
import { KeyslotsScreen } from './keyslots/KeyslotsScreen';
import { OperatorsScreen } from './operators/OperatorsScreen';
import type { ScreenId } from './registry';
import { RotationScreen } from './rotation/RotationScreen';
import { SettingsScreen } from './settings/SettingsScreen';
import { TokensScreen } from './tokens/TokensScreen';

export function ScreenView({ id }: { id: ScreenId }): ReactElement {
  switch (id) {
    case 'keys':
      return <KeysScreen />;
    case 'rotation':
      return <RotationScreen />;
    case 'tokens':
      return <TokensScreen />;
    case 'bundles':
      return <BundlesScreen />;
    case 'audit':
      return <AuditScreen />;
    case 'keyslots':
      return <KeyslotsScreen />;
    case 'settings':
      return <SettingsScreen />;
    case 'operators':
      return <OperatorsScreen />;
    case 'ceremony':
      return <CeremonyScreen />;
    default:
      return missingCase(id);
  }
}
