import type { Page } from '../api/types';

/**
 * Counts and navigation of a list page (docs/http-contract.md#pagination). A task list stops
 * counting 10 000 rows past the page's first item and then says `total_capped`: the count is a
 * lower bound, shown as "10 000+", and there may be pages past `total_pages`, so "Next" stays
 * enabled.
 */
export function groupDigits(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** "10 000+ tasks", "1 task", "12 entries in all"-style count text. */
export function countText(data: Page, singular: string, plural: string): string {
  if (data.total_capped) return `${groupDigits(data.total)}+ ${plural}`;
  return `${groupDigits(data.total)} ${data.total === 1 ? singular : plural}`;
}

/** "Page 3 of 502" or, when the count stopped, "Page 3 of 502+". */
export function pageText(data: Page): string {
  return `Page ${groupDigits(data.page)} of ${groupDigits(Math.max(1, data.total_pages))}${data.total_capped ? '+' : ''}`;
}

/** True while a later page may hold items: always when the count stopped at its cap. */
export function hasNextPage(data: Page): boolean {
  return Boolean(data.total_capped) || data.page < data.total_pages;
}
