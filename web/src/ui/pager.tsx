import type { Page } from '../api/types';
import { countText } from './paging';

/**
 * Previous / next with the page count, for the admin lists. A capped count shows as "10 000+ in
 * all"; "Next" still stops at `total_pages`, since the audit log's cap is also its last page.
 */
export function Pager({ data, onPage, label, testid }: { data: Page; onPage: (page: number) => void; label: string; testid: string }) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" data-testid={`${testid}-prev`} disabled={data.page <= 1} onClick={() => onPage(data.page - 1)}>
        Previous
      </button>
      <span data-testid={`${testid}-info`}>
        Page {data.page} of {Math.max(1, data.total_pages)} · {countText(data, 'in all', 'in all')}
      </span>
      <button type="button" data-testid={`${testid}-next`} disabled={data.page >= data.total_pages} onClick={() => onPage(data.page + 1)}>
        Next
      </button>
    </nav>
  );
}
