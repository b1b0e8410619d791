/**
 * A revocations-only bundle shown as QR codes (docs/bundle-format.md, 14), so
 * that its revocations can leave the workstation without removable media: one
 * code at a time, large, "part i of n", moving on by itself every 1.5 s (with
 * pause, previous and next) until the server's reader has them all. The codes
 * carry the bundle file exactly as saved; the server checks it as any bundle.
 */
import { useEffect, useId, useState } from 'react';
import type { BundleExportReport } from '../../../../shared/contract';

export type QrPart = NonNullable<BundleExportReport['qr']>[number];

export const QR_ADVANCE_MS = 1500;

/** The SVG as an image source (an <img> never runs what an SVG could hold). */
function svgSource(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(bin)}`;
}

export function QrView({ parts, onClose }: { parts: readonly QrPart[]; onClose: () => void }) {
  const n = parts.length;
  const [i, setI] = useState(0);
  const [playing, setPlaying] = useState(n > 1);
  const id = useId();
  useEffect(
    function advance() {
      if (!playing || n < 2) return undefined;
      const t = setInterval(() => setI((x) => (x + 1) % n), QR_ADVANCE_MS);
      return () => clearInterval(t);
    },
    [playing, n],
  );
  const part = parts[i];
  if (!part) return null;
  const go = (d: number) => setI((x) => (x + d + n) % n);
  return (
    <section className="bundle-section qr-view" aria-labelledby={`${id}-h`} data-testid="qr-view" data-part={part.index} data-total={n}>
      <h2 id={`${id}-h`}>The bundle as QR codes</h2>
      <p className="hint">
        Point the server&apos;s reader at the screen{n > 1 ? ' until it has every part; the order does not matter' : ''}. The codes
        carry the saved bundle file exactly; the server checks its signatures as for the file.
      </p>
      <figure className="qr-figure">
        <img src={svgSource(part.svg)} alt={`QR code, part ${part.index} of ${n}`} width={360} height={360} data-testid="qr-image"
          data-text={part.text} />
        <figcaption aria-live={playing ? 'off' : 'polite'} data-testid="qr-caption">Part {part.index} of {n}</figcaption>
      </figure>
      <div className="actions">
        {n > 1 ? (
          <>
            <button type="button" className="button" onClick={() => go(-1)} data-testid="qr-previous">Previous</button>
            <button type="button" className="button" onClick={() => setPlaying(!playing)} aria-pressed={!playing} data-testid="qr-pause">
              {playing ? 'Pause' : 'Play'}
            </button>
            <button type="button" className="button" onClick={() => go(1)} data-testid="qr-next">Next</button>
          </>
        ) : null}
        <button type="button" className="button primary" onClick={onClose} data-testid="qr-close">Close the codes</button>
      </div>
    </section>
  );
}
