/** The unlocked vault: search and filters, the sortable virtual key list with due status, a key's detail, and the new-key form. */
import { useCallback, useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { keyStateSchema, type DueStatus } from '../../../shared/contract';
import { plural } from '../format';
import { usePermission } from '../roles';
import { useKeyDetail } from '../stores/keyDetail';
import { DUE_ORDER, SORT_COLUMNS, useKeys, type KeyFilter, type KeyRow, type SortColumn } from '../stores/keys';
import { useUi } from '../stores/ui';
import { ErrorBlock, Loading, ScreenTitle } from './common';
import { CreateKeyForm } from './CreateKeyForm';
import { KeyDetailPanel } from './KeyDetail';
import { VirtualList } from './VirtualList';

/** The due status as the list says it. */
export const DUE_LABEL: Readonly<Record<DueStatus, string>> = {
  overdue: 'overdue',
  'due-soon': 'due soon',
  ok: 'fine',
  inactive: 'inactive',
};

const COLUMN_LABEL: Readonly<Record<SortColumn, string>> = {
  name: 'Name',
  service: 'Service',
  environment: 'Environment',
  state: 'State',
  due: 'Due',
};

/** One labelled filter: "All" (the empty value) or one of the options. */
function FilterSelect(props: Readonly<{ id: string; label: string; value: string; options: ReadonlyArray<readonly [string, string]>;
  testId: string; onChange: (value: string) => void }>) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)} data-testid={props.testId}>
        <option value="">All</option>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

const same = (v: string): readonly [string, string] => [v, v];

function isFiltered(f: KeyFilter): boolean {
  return f.query !== '' || f.service !== '' || f.environment !== '' || f.state !== '' || f.due !== '';
}

function Filters() {
  const { filter, services, environments } = useKeys(
    useShallow((s) => ({ filter: s.filter, services: s.services, environments: s.environments })),
  );
  const { setFilter, clearFilters } = useKeys(useShallow((s) => ({ setFilter: s.setFilter, clearFilters: s.clearFilters })));
  const id = useId();
  return (
    <div className="keys-filters" role="search" aria-label="Filter keys">
      <div className="field keys-search">
        <label htmlFor={`${id}-q`}>Search</label>
        <input
          id={`${id}-q`}
          type="search"
          placeholder="name, service, environment, owner, scope or id"
          value={filter.query}
          onChange={(e) => setFilter({ query: e.target.value })}
          data-testid="search"
        />
      </div>
      <div className="keys-selects">
        <FilterSelect id={`${id}-service`} label="Service" value={filter.service} options={services.map(same)} testId="filter-service"
          onChange={(v) => setFilter({ service: v })} />
        <FilterSelect id={`${id}-env`} label="Environment" value={filter.environment} options={environments.map(same)}
          testId="filter-environment" onChange={(v) => setFilter({ environment: v })} />
        <FilterSelect id={`${id}-state`} label="State" value={filter.state} options={keyStateSchema.options.map(same)}
          testId="filter-state" onChange={(v) => {
            const parsed = keyStateSchema.safeParse(v);
            setFilter({ state: parsed.success ? parsed.data : '' });
          }} />
        <FilterSelect id={`${id}-due`} label="Due" value={filter.due} options={DUE_ORDER.map((d) => [d, DUE_LABEL[d]] as const)}
          testId="filter-due" onChange={(v) => {
            const parsed = DUE_ORDER.find((d) => d === v);
            setFilter({ due: parsed ?? '' });
          }} />
        <div className="keys-clear">
          <button type="button" className="button" onClick={clearFilters} disabled={!isFiltered(filter)} data-testid="clear-filters">
            Clear filters
          </button>
        </div>
      </div>
    </div>
  );
}

function DueBadge({ due }: { due: DueStatus }) {
  return <span className={`badge due-${due}`}>{DUE_LABEL[due]}</span>;
}

function KeyRowCells({ k }: { k: KeyRow }) {
  return (
    <>
      <span className="cell name">{k.name}</span>
      <span className="cell">{k.service}</span>
      <span className="cell">{k.environment}</span>
      <span className="cell">
        <span className={`badge state-${k.state}`}>{k.state}</span>
      </span>
      <span className="cell" data-due={k.due}>
        <DueBadge due={k.due} />
      </span>
    </>
  );
}

/** Column headers as a one-row table: each a button that sorts, its direction in aria-sort. */
function SortHeader() {
  const { sort, setSort } = useKeys(useShallow((s) => ({ sort: s.sort, setSort: s.setSort })));
  return (
    <div className="vhead" role="table" aria-label="Sort the key list">
      <div role="row" className="vhead-row">
        {SORT_COLUMNS.map((c) => {
          const active = sort.column === c;
          const dir = active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none';
          return (
            <div key={c} role="columnheader" aria-sort={dir} className={`cell${c === 'name' ? ' name' : ''}`}>
              <button type="button" className="sort-button" onClick={() => setSort(c)} data-testid={`sort-${c}`}
                aria-label={`Sort by ${COLUMN_LABEL[c].toLowerCase()}${active ? (sort.dir === 'asc' ? ', now ascending' : ', now descending') : ''}`}>
                {COLUMN_LABEL[c]}
                <span className="sort-mark" aria-hidden="true">{active ? (sort.dir === 'asc' ? '▲' : '▼') : ''}</span>
              </button>
            </div>
          );
        })}
      </div>
    </div>
  );
}

function KeyList() {
  const { all, visible, status, error, version, total, partial, read } = useKeys(
    useShallow((s) => ({ all: s.all, visible: s.visible, status: s.status, error: s.error, version: s.version, total: s.total,
      partial: s.partial, read: s.read })),
  );
  const { load, clearFilters } = useKeys(useShallow((s) => ({ load: s.load, clearFilters: s.clearFilters })));
  const { selectedId, select } = useKeyDetail(useShallow((s) => ({ selectedId: s.selectedId, select: s.select })));
  const showView = useUi((s) => s.showView);

  const keyAt = useCallback((i: number) => all[visible[i] as number] as KeyRow, [all, visible]);
  const rowId = useCallback((i: number) => `key-row-${keyAt(i).id}`, [keyAt]);
  const renderRow = useCallback((i: number) => <KeyRowCells k={keyAt(i)} />, [keyAt]);
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
      <p className="count" role="status" data-testid="key-count" data-count={partial ? undefined : visible.length}
        data-loaded={all.length}>
        {partial
          ? `Showing the first ${plural(all.length, 'key')} while all ${total.toLocaleString('en-US')} are read and checked (${read.toLocaleString('en-US')} so far)…`
          : visible.length === all.length
            ? plural(all.length, 'key')
            : `${plural(visible.length, 'key')} of ${all.length.toLocaleString('en-US')}`}
      </p>
      {error ? <ErrorBlock error={error} title="The list could not be refreshed" /> : null}
      {visible.length === 0 ? (
        <div className="empty" data-testid="no-match">
          <p>No key matches the filter.</p>
          <button type="button" className="button" onClick={clearFilters}>
            Clear filters
          </button>
        </div>
      ) : (
        <>
          <SortHeader />
          <VirtualList
            count={visible.length}
            label="Keys"
            rowId={rowId}
            renderRow={renderRow}
            isSelected={isSelected}
            onOpen={onOpen}
            version={version}
          />
        </>
      )}
    </>
  );
}

export function KeysScreen() {
  const view = useUi((s) => s.view);
  const showView = useUi((s) => s.showView);
  const canCreate = usePermission('key.create');
  return (
    <main className="screen wide keys-screen" data-screen={view === 'create' ? 'create-key' : 'keys'}>
      <div className="screen-head">
        <ScreenTitle focus={view === 'list'} focusKey={view}>Keys</ScreenTitle>
        {view === 'list' ? (
          <button type="button" className="button primary" onClick={() => showView('create')} disabled={!canCreate.allowed}
            title={canCreate.reason ?? undefined} data-testid="new-key">
            New key
          </button>
        ) : null}
      </div>
      {view === 'create' ? (
        <CreateKeyForm />
      ) : (
        <>
          <Filters />
          <div className="split keys-split">
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
