// lib.mjs — what every interop suite shares: counting its checks and the
// closing line tests/run.sh reads ("NAME: N passed, M failed", exit status
// 1 on any failure).
//
//   const t = suite('lake_dv');          // prints "ok - ..." for passes
//   const t = suite('cow_threads', { quiet: true });   // failures only
//   t.ok(cond, what, why)   counts one check; returns cond
//   t.end()                 prints the closing line and exits
export function suite(name, { quiet = false } = {}) {
	const t = { passed: 0, failed: 0 };
	t.ok = (cond, what, why = '') => {
		if (cond) {
			t.passed++;
			if (!quiet)
				console.log(`ok - ${what}`);
		} else {
			t.failed++;
			console.log(`FAIL ${what}${why ? `: ${String(why).slice(0, 1500)}` : ''}`);
		}
		return cond;
	};
	t.end = () => {
		console.log(`${name}: ${t.passed} passed, ${t.failed} failed`);
		process.exit(t.failed ? 1 : 0);
	};
	return t;
}
