import { describe, expect, it } from 'vitest';
import { countText, hasNextPage, pageText } from './paging';

const page = (total: number, page: number, total_pages: number, total_capped?: boolean) =>
  ({ total, page, page_size: 20, total_pages, ...(total_capped ? { total_capped } : {}) });

describe('paging text', () => {
  it('shows an exact count as is', () => {
    expect(countText(page(1, 1, 1), 'task', 'tasks')).toBe('1 task');
    expect(countText(page(12500, 1, 625), 'task', 'tasks')).toBe('12 500 tasks');
    expect(pageText(page(12500, 3, 625))).toBe('Page 3 of 625');
    expect(pageText(page(0, 1, 0))).toBe('Page 1 of 1');
  });

  it('shows a capped count as a lower bound', () => {
    expect(countText(page(10000, 1, 500, true), 'task', 'tasks')).toBe('10 000+ tasks');
    expect(pageText(page(29980, 1000, 1499, true))).toBe('Page 1 000 of 1 499+');
  });
});

describe('next page', () => {
  it('stops at the last page of an exact count', () => {
    expect(hasNextPage(page(40, 1, 2))).toBe(true);
    expect(hasNextPage(page(40, 2, 2))).toBe(false);
    expect(hasNextPage(page(40, 5, 2))).toBe(false);
  });

  it('keeps going past a capped count', () => {
    expect(hasNextPage(page(10000, 500, 500, true))).toBe(true);
    expect(hasNextPage(page(10000, 501, 500, true))).toBe(true);
  });
});
