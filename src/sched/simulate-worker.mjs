// The simulation pool's worker entry when flexmoe runs from its TypeScript sources: a worker thread
// does not inherit the parent's loader, so register tsx first, then serve the job runner.
// (Built, the pool loads simulate-job.js directly.)
const { register } = await import('tsx/esm/api');
register();
const { runSimJob } = await import('./simulate-job.ts');
export default runSimJob;
