/**
 * A fixed-row-height virtual listbox: only the rows in view (plus a few) are in
 * the DOM, so 100,000 keys scroll and filter as smoothly as ten. Keyboard:
 * arrows, Page Up/Down, Home/End move the active row; Enter opens it.
 *
 * Row positions are set through the style property (CSSOM), which the CSP's
 * style-src 'self' allows: it forbids inline style attributes in markup and
 * <style> elements, not script-set styles.
 */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

export const ROW_HEIGHT = 44;
const OVERSCAN = 8;

export type VirtualListProps = Readonly<{
  count: number;
  label: string;
  /** The DOM id of row i (for aria-activedescendant). */
  rowId: (i: number) => string;
  renderRow: (i: number) => ReactNode;
  isSelected: (i: number) => boolean;
  onOpen: (i: number) => void;
  /** Changes when the rows change (a new filter), so the active row resets. */
  version: unknown;
}>;

export function VirtualList({ count, label, rowId, renderRow, isSelected, onOpen, version }: VirtualListProps) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  const [active, setActive] = useState(-1);

  useLayoutEffect(function measure() {
    const el = box.current;
    if (!el) return undefined;
    setHeight(el.clientHeight || 480);
    const ro = new ResizeObserver(function onResize() {
      setHeight(el.clientHeight || 480);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(
    function resetOnNewRows() {
      setActive(-1);
      if (box.current) box.current.scrollTop = 0;
      setScrollTop(0);
    },
    [version],
  );

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);

  function scrollToRow(i: number): void {
    const el = box.current;
    if (!el) return;
    const top = i * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    setScrollTop(el.scrollTop);
  }

  function move(to: number): void {
    if (count === 0) return;
    const i = Math.max(0, Math.min(count - 1, to));
    setActive(i);
    scrollToRow(i);
  }

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>): void {
    const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1);
    switch (e.key) {
      case 'ArrowDown':
        move(active + 1);
        break;
      case 'ArrowUp':
        move(active < 0 ? 0 : active - 1);
        break;
      case 'PageDown':
        move(active + page);
        break;
      case 'PageUp':
        move(active - page);
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(count - 1);
        break;
      case 'Enter':
      case ' ':
        if (active >= 0 && active < count) onOpen(active);
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  function onFocus(): void {
    if (active < 0 && count > 0) setActive(Math.min(Math.floor(scrollTop / ROW_HEIGHT), count - 1));
  }

  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div
        key={rowId(i)}
        id={rowId(i)}
        role="option"
        aria-selected={isSelected(i)}
        aria-setsize={count}
        aria-posinset={i + 1}
        className={`vrow${i === active ? ' active' : ''}${isSelected(i) ? ' selected' : ''}`}
        onClick={function onRowClick() {
          setActive(i);
          onOpen(i);
        }}
      >
        {renderRow(i)}
      </div>,
    );
  }

  const activeRendered = active >= first && active < last;
  return (
    <div
      ref={box}
      className="vlist"
      role="listbox"
      aria-label={label}
      tabIndex={0}
      aria-activedescendant={activeRendered ? rowId(active) : undefined}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
      onFocus={onFocus}
      data-testid="key-list"
    >
      <div role="none" className="vlist-spacer" style={{ height: count * ROW_HEIGHT }}>
        <div role="none" className="vlist-window" style={{ transform: `translateY(${first * ROW_HEIGHT}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
