// What browser-page.ts reports on `window` for browser.test.ts to read (shared types only).

/** One event the page received. */
export interface PageEvent {
  protocol: string;
  binary: string;
  pod: string;
}

declare global {
  interface Window {
    nsguardReceived: PageEvent[];
    nsguardErrors: string[];
  }
}
