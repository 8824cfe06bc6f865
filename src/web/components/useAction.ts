/** Runs a user's action against the API, keeps its error for display, and refreshes what it changed. */
import { useCallback, useState } from 'preact/hooks';

export function useAction(after?: () => void): { error: unknown; run: (action: () => Promise<unknown>) => Promise<void> } {
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(
    async (action: () => Promise<unknown>) => {
      setError(null);
      try {
        await action();
        after?.();
      } catch (err) {
        setError(err);
      }
    },
    [after],
  );
  return { error, run };
}
