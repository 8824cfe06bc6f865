/**
 * A clean-up that fails leaves something behind (a partial file, segments, a
 * lease): it is reported, never dropped in silence. Stores have no logger of
 * their own; the composition root says where reports go (the service's log),
 * and until it does they are process warnings.
 */
export type LeftoverReport = (what: string, err: unknown) => void;

let report: LeftoverReport = (what, err) => process.emitWarning(`${what} (${err instanceof Error ? err.message : String(err)})`, 'GlimpseLeftover');

export function reportLeftoversTo(sink: LeftoverReport): void {
  report = sink;
}

/** A catch handler for a clean-up: `.catch(leftBehind('partial file x'))`. */
export function leftBehind(what: string): (err: unknown) => void {
  return (err) => report(what, err);
}
