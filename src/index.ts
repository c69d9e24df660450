/**
 * flexmoe: Mixture-of-Experts training and serving on Node.js worker threads.
 * This is the front door; everything public is re-exported from here.
 */
export { Tensor, sizeOf, type DType, type F32, type I32 } from './tensor/tensor.js';
export { TensorPool } from './tensor/pool.js';
export { FlexMoEError, errors } from './errors.js';
export { Backend, backendNames, createBackend, createDefaultBackend, defaultBackendName, type BackendName } from './kernels/backend.js';
export { registerKernel, registeredKernels } from './kernels/registry.js';
export type { AdamWHyper, AttentionShape, KernelConfig, KernelName, KernelSignatures, MatmulForm, Ops } from './kernels/types.js';
// Autograd: layers write forward only
export * as ad from './autograd/ops.js';
export { LastPass, valueAndGrads } from './autograd/grad.js';
export { Tape, untaped, type BackwardFn } from './autograd/tape.js';
export { Rng } from './nn/random.js';
export { Parameter, zeroGrads, type HasParameters, type ParamDType } from './nn/parameter.js';
export { Linear } from './nn/linear.js';
export { ExpertFFN } from './nn/ffn.js';
export { LayerNorm } from './nn/layernorm.js';
export { RMSNorm } from './nn/rmsnorm.js';
export { Embedding } from './nn/embedding.js';
export { CausalSelfAttention } from './nn/attention.js';
export { CrossEntropyLoss } from './nn/loss.js';
export { AdamW, type AdamWOptions } from './nn/adamw.js';
export { TransformerBlock, type BlockConfig } from './models/transformer-block.js';
export { CharTransformer, type CharTransformerConfig } from './models/char-transformer.js';
export { CharVocab } from './data/chars.js';
export { CharCorpus, mobyDick, type Batch } from './data/corpus.js';
export { trainCharLM, evaluate, generate, type LMTrainOptions, type StepStats } from './train/lm.js';

// Actor runtime
export { Actor, registerActor, type ActorClass, type ActorContext, type ActorRef } from './runtime/actor.js';
export { ActorSystem, type SystemOptions } from './runtime/system.js';
import { siblingModule } from './runtime/thread.js';
export type { RuntimeEvent } from './runtime/events.js';
export { Collectives } from './runtime/collectives.js';
export { RowPost, type RowHandler, type RowKind, type RowMessage } from './runtime/row-post.js';
export { Host, type HostOptions } from './hosts/host.js';
export type { HostsOptions } from './hosts/cluster.js';
export { startBroker, type Broker, type BrokerOptions } from './hosts/broker.js';
export { natsCredentials, type NatsCredentials } from './hosts/credentials.js';
export { RingReader, RingWriter, ringBytes, type Frame, type FrameInit } from './runtime/ring.js';

// Scheduling: placement, cost model, policies, simulator, telemetry operators
export { Placement, balanceRatio, deviceLoads, type PlacementOp } from './sched/placement.js';
export { clusterA100, profiles, stepCost, type CostProfile, type Dispatch, type StepCost } from './sched/cost.js';
export { migrationMs, reactPlanMs } from './sched/plan-cost.js';
export type { LoadView, Policy, PolicySchedule } from './sched/policy.js';
export { schedule, LayerScheduler, type Decision, type ScheduleOptions } from './sched/pipeline.js';
export { makePolicy, registerPolicy, userPolicies, policyFactories, staticPolicy, staticUnpaddedPolicy, capacityPolicy, fastermoePolicy, eplbPolicy, flexmoePolicy, oraclePolicy } from './sched/policies/index.js';
export { planFlexMoE } from './sched/planner.js';
export { rebalanceExperts } from './sched/eplb.js';
export { simulate, speedups, type PolicyReport, type SimulationOptions } from './sched/simulate.js';
export { runSimJob, type SimJob } from './sched/simulate-job.js';
export { simulateJobs } from './sched/simulate-pool.js';
export { SyntheticWorkload, parseWorkload, type RoutingSource, type WorkloadSpec } from './sched/workload.js';
export { TraceSource, TraceWriter, type TraceHeader } from './sched/trace.js';
export * from './sched/operators/index.js';

// Mixture of Experts: router, layers, models, training
export { Gate, TopKGate, SigmoidGate, registerGate, makeGate, knownGates, type GateOptions, type GateInit, type Route, type Routing } from './moe/gates.js';
export { Expert, FFNExpert, SwiGLUExpert, registerExpert, makeExpert, knownExperts, type ExpertSpec, type ExpertClass } from './moe/experts.js';
export { chosenWeights, keepSlots } from './autograd/moe-ops.js';
export { MoELayer, type MoELayerOptions } from './moe/moe-layer.js';
export { DistributedMoELayer, type MoEComm, type MoEParts, type MoEPartSeeds } from './moe/distributed-moe.js';
export { ExpertRunner } from './moe/expert-runner.js';
export { ExpertActor, type ExpertArgs, type ExpertMessage } from '../actors/expert.js';
/** The module that registers the expert actor, for `ActorSystem.start({ modules })` when you spawn expert actors yourself. */
export const expertActorModule: URL = siblingModule('../actors/expert', import.meta.url);
export { GateActor, type GateArgs, type GateMessage } from '../actors/gate.js';
export { TrainableActor, type TrainableArgs } from '../actors/trainable.js';
export { VisionMoE, type VisionMoEConfig } from './models/vision-moe.js';
export { knownTasks, makeTask, registerTask, languageTask, taskNames, type LanguageConfig, type MakeMoE, type Task, type TaskModel, type TaskName, type TaskSpec } from './models/tasks.js';
export { Model, type ModelConfig } from './models/model.js';
export type { FeedForward } from './models/transformer-block.js';
export type { RoutedFeedForward } from './models/char-transformer.js';
export { MnistDigits } from './data/mnist.js';
export { Trainer, type TrainEvent, type FitCallbacks, type FitOptions, type TrainerOptions } from './train/trainer.js';
export { trainDistributed, type DistributedOptions, type DistributedStep, type Rebalance } from './train/distributed.js';
export type { RecoveryReport } from './train/recovery.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';
export { calibrate } from './sched/calibrate.js';

// Notebooks
export { display, type Displayable } from './notebook/display.js';
export { lineChart, barChart, heatMap, table } from './notebook/charts.js';
export { Notebook, type CellResult } from './notebook/runner.js';
export { parseCells, type Cell } from './notebook/cells.js';
export { serveDashboard, type Dashboard } from './dashboard/server.js';
export { ServedModel, type ServeOptions, type GenerateOptions } from './serve/model.js';
export { loadModel } from './serve/load.js';
export { ServeStats, type PassEvent } from './serve/stats.js';
export type { Engine, ServeEvent, ForwardResult } from './serve/engine.js';
export type { ModelInfo, ServedKind } from './serve/build.js';
/** The closest of some names to a misspelt one, for did-you-mean messages (the CLI's and the example server's). */
export { nearest } from './cli/args.js';
