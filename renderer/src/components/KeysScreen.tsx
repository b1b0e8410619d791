/** The unlocked vault: search and filters, the virtual key list, a key's detail, and the new-key form. */
import { useCallback, useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { keyStateSchema, type KeySummary } from '../../../shared/contract';
import { plural } from '../format';
import { useKeys } from '../stores/keys';
import { useUi } from '../stores/ui';
import { ErrorBlock, Loading, ScreenTitle } from './common';
import { CreateKeyForm } from './CreateKeyForm';
import { KeyDetailPanel } from './KeyDetail';
import { VirtualList } from './VirtualList';

/** One labelled filter: "All" (the empty value) or one of the options. */
function FilterSelect(props: Readonly<{ id: string; label: string; value: string; options: readonly string[]; testId: string;
  onChange: (value: string) => void }>) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)} data-testid={props.testId}>
        <option value="">All</option>
        {props.options.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </div>
  );
}

function Filters() {
  const { filter, services, environments } = useKeys(
    useShallow((s) => ({ filter: s.filter, services: s.services, environments: s.environments })),
  );
  const setFilter = useKeys((s) => s.setFilter);
  const id = useId();
  return (
    <div className="filters" role="search" aria-label="Filter keys">
      <div className="field grow">
        <label htmlFor={`${id}-q`}>Search</label>
        <input
          id={`${id}-q`}
          type="search"
          placeholder="name, service, environment, scope or id"
          value={filter.query}
          onChange={(e) => setFilter({ query: e.target.value })}
          data-testid="search"
        />
      </div>
      <FilterSelect id={`${id}-service`} label="Service" value={filter.service} options={services} testId="filter-service"
        onChange={(v) => setFilter({ service: v })} />
      <FilterSelect id={`${id}-env`} label="Environment" value={filter.environment} options={environments}
        testId="filter-environment" onChange={(v) => setFilter({ environment: v })} />
      <FilterSelect id={`${id}-state`} label="State" value={filter.state} options={keyStateSchema.options} testId="filter-state"
        onChange={(v) => {
          const parsed = keyStateSchema.safeParse(v);
          setFilter({ state: parsed.success ? parsed.data : '' });
        }} />
    </div>
  );
}

function KeyRow({ k }: { k: KeySummary }) {
  return (
    <>
      <span className="cell name">{k.name}</span>
      <span className="cell">{k.service}</span>
      <span className="cell">{k.environment}</span>
      <span className="cell">
        <span className={`badge state-${k.state}`}>{k.state}</span>
      </span>
    </>
  );
}

function KeyList() {
  const { all, visible, status, error, selectedId, filter } = useKeys(
    useShallow((s) => ({ all: s.all, visible: s.visible, status: s.status, error: s.error, selectedId: s.selectedId, filter: s.filter })),
  );
  const { select, load } = useKeys(useShallow((s) => ({ select: s.select, load: s.load })));
  const showView = useUi((s) => s.showView);

  const keyAt = useCallback((i: number) => all[visible[i] as number] as KeySummary, [all, visible]);
  const rowId = useCallback((i: number) => `key-row-${keyAt(i).id}`, [keyAt]);
  const renderRow = useCallback((i: number) => <KeyRow k={keyAt(i)} />, [keyAt]);
  const isSelected = useCallback((i: number) => keyAt(i).id === selectedId, [keyAt, selectedId]);
  const onOpen = useCallback((i: number) => void select(keyAt(i).id), [keyAt, select]);

  if (status === 'loading' || status === 'idle') return <Loading label="Loading keys…" />;
  if (status === 'error' && error) {
    return (
      <ErrorBlock error={error} title="The keys could not be listed">
        <button type="button" className="button" onClick={() => void load()}>
          Try again
        </button>
      </ErrorBlock>
    );
  }
  if (all.length === 0) {
    return (
      <div className="empty" data-testid="empty-vault">
        <p>This vault holds no keys yet.</p>
        <button type="button" className="button primary" onClick={() => showView('create')}>
          Create the first key
        </button>
      </div>
    );
  }
  return (
    <>
      <p className="count" role="status" data-testid="key-count" data-count={visible.length}>
        {visible.length === all.length ? plural(all.length, 'key') : `${plural(visible.length, 'key')} of ${all.length.toLocaleString('en-US')}`}
      </p>
      {visible.length === 0 ? (
        <p className="empty" data-testid="no-match">
          No key matches the filter.
        </p>
      ) : (
        <>
          <div className="vhead" aria-hidden="true">
            <span className="cell name">Name</span>
            <span className="cell">Service</span>
            <span className="cell">Environment</span>
            <span className="cell">State</span>
          </div>
          <VirtualList
            count={visible.length}
            label="Keys"
            rowId={rowId}
            renderRow={renderRow}
            isSelected={isSelected}
            onOpen={onOpen}
            version={filter}
          />
        </>
      )}
    </>
  );
}

export function KeysScreen() {
  const view = useUi((s) => s.view);
  const showView = useUi((s) => s.showView);
  return (
    <main className="screen wide" data-screen={view === 'create' ? 'create-key' : 'keys'}>
      <div className="screen-head">
        <ScreenTitle focus={view === 'list'} focusKey={view}>Keys</ScreenTitle>
        {view === 'list' ? (
          <button type="button" className="button primary" onClick={() => showView('create')} data-testid="new-key">
            New key
          </button>
        ) : null}
      </div>
      {view === 'create' ? (
        <CreateKeyForm />
      ) : (
        <>
          <Filters />
          <div className="split">
            <section className="list-pane" aria-label="Key list">
              <KeyList />
            </section>
            <KeyDetailPanel />
          </div>
        </>
      )}
    </main>
  );
}
