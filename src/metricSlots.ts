/**
 * prom-client metrics that cost (almost) nothing when nobody reads them (issue 26).
 *
 * prom-client's `Counter.inc` and `Histogram.observe` hash and validate the labels, and
 * the histogram looks its bucket up by a number-to-string key, on every call. On the
 * request path the gateway calls them once per request, with a handful of label sets.
 * These subclasses count into one plain slot per label set instead, and add the slots
 * to the prom-client series in `collect()`, which prom-client runs whenever the metric
 * is read (a /metrics scrape, `get()`). The exposition (names, labels, label order,
 * series order, values) is what the plain metric would show.
 *
 * The first call with a label set goes through prom-client itself (it validates the
 * labels and creates the series, so series keep their first-use order); so does any
 * call the fast path does not understand (no labels object, a value that is not a
 * plain non-negative / finite number), which keeps prom-client's errors. `reset` and
 * `zero` drop what the slots hold; the gateway never calls `remove` on these (a removed
 * series would come back with the slot's next count).
 */
import client from 'prom-client';

type Labels = Record<string, string | number>;

/** The slot key of a label set: its values in labelNames order. */
function slotKey(labels: Labels, names: readonly string[]): string {
  let key = '';
  for (let i = 0; i < names.length; i++) key += String(labels[names[i]]) + '\u0001';
  return key;
}

function labelNamesOf(metric: object): readonly string[] {
  return (metric as { labelNames?: string[] }).labelNames ?? [];
}

interface CounterSlot {
  labels: Labels;
  n: number;
}

export class SlotCounter<T extends string = string> extends client.Counter<T> {
  private slots = new Map<string, CounterSlot>();
  private readonly direct: (labels: Labels | number | undefined, value?: number) => void;

  constructor(config: client.CounterConfiguration<T>) {
    super({
      ...config,
      collect(this: client.Counter<T>) {
        (this as SlotCounter<T>).flush();
      },
    });
    const direct = this.inc.bind(this) as (labels: Labels | number | undefined, value?: number) => void;
    this.direct = direct;
    const names = labelNamesOf(this);
    const fast = (labels?: Labels | number, value?: number): void => {
      if (typeof labels !== 'object' || labels === null || (value !== undefined && !(value >= 0 && value < Infinity))) return direct(labels, value);
      const key = slotKey(labels, names);
      let slot = this.slots.get(key);
      if (!slot) {
        const own = { ...labels };
        direct(own, 0); // validates the labels, creates the series in first-use order
        slot = { labels: own, n: 0 };
        this.slots.set(key, slot);
      }
      slot.n += value ?? 1;
    };
    this.inc = fast as client.Counter<T>['inc'];
  }

  /** Adds what the slots counted since the last read to the counter. */
  flush(): void {
    for (const slot of this.slots.values()) {
      if (slot.n === 0) continue;
      const n = slot.n;
      slot.n = 0;
      this.direct(slot.labels, n);
    }
  }

  override reset(): void {
    this.slots = new Map();
    super.reset();
  }
}

interface HistogramSlot {
  labels: Labels;
  /** per bucket (the last one: above every bound) */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** prom-client 15's per-series record (lib/histogram.js createBaseValues). */
interface SeriesRecord {
  labels: Labels;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

export class SlotHistogram<T extends string = string> extends client.Histogram<T> {
  private slots = new Map<string, HistogramSlot>();

  constructor(config: client.HistogramConfiguration<T>) {
    super({
      ...config,
      collect(this: client.Histogram<T>) {
        (this as SlotHistogram<T>).flush();
      },
    });
    const direct = this.observe.bind(this) as (labels: Labels | number | undefined, value?: number) => void;
    const names = labelNamesOf(this);
    const bounds = this.bounds();
    const fast = (labels?: Labels | number, value?: number): void => {
      if (typeof labels !== 'object' || labels === null || typeof value !== 'number' || !Number.isFinite(value)) return direct(labels, value);
      const key = slotKey(labels, names);
      const slot = this.slots.get(key);
      if (!slot) {
        const own = { ...labels };
        direct(own, value); // validates the labels, creates the series in first-use order
        this.slots.set(key, { labels: own, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 });
        return;
      }
      let i = 0;
      while (i < bounds.length && !(value <= bounds[i])) i++;
      slot.counts[i]++;
      slot.sum += value;
      slot.count++;
    };
    this.observe = fast as client.Histogram<T>['observe'];
  }

  private bounds(): readonly number[] {
    return (this as unknown as { upperBounds: number[] }).upperBounds;
  }

  private series(labels: Labels): SeriesRecord {
    const map = (this as unknown as { hashMap: Record<string, SeriesRecord> }).hashMap;
    const found = Object.values(map).find((r) => r.labels === labels);
    if (found) return found;
    super.zero(labels as client.LabelValues<T>);
    return this.series(labels);
  }

  /** Adds what the slots observed since the last read to the histogram's series. */
  flush(): void {
    const bounds = this.bounds();
    for (const slot of this.slots.values()) {
      if (slot.count === 0) continue;
      const rec = this.series(slot.labels);
      for (let i = 0; i < bounds.length; i++) rec.bucketValues[bounds[i]] += slot.counts[i];
      rec.sum += slot.sum;
      rec.count += slot.count;
      slot.counts.fill(0);
      slot.sum = 0;
      slot.count = 0;
    }
  }

  override reset(): void {
    this.slots = new Map();
    super.reset();
  }

  override zero(labels: client.LabelValues<T>): void {
    this.slots.delete(slotKey(labels as Labels, labelNamesOf(this)));
    super.zero(labels);
  }
}
