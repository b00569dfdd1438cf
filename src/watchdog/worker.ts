// The watchdog thread's entry (see DESIGN.md).
export {};
