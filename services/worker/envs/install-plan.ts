/** The shape shared by the install backends: files to write, then commands to run in order. */
import type { LockfileInfo } from './lockfile-info';

export interface InstallStep {
  command: string;
  args: string[];
  cwd?: string;
  /** Extra environment variables for this step. */
  env?: Record<string, string>;
}

export interface InstallPlan {
  backend: 'uv' | 'pip';
  files: { path: string; content: string }[];
  steps: InstallStep[];
}

export interface PlanInput {
  basePython: string;
  /** Directory the venv is created in (inside the work dir; renamed into place afterwards). */
  envDir: string;
  /** Scratch directory for the lockfile and project files. */
  workDir: string;
  lockfile: string;
  info: LockfileInfo;
  indexUrl?: string;
}
