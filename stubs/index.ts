/**
 * Local vendor stubs: faithful stand-ins for Returning.AI (proxy and Widget SDK flows) and Caramelo AI
 * on loopback, used by the demo server when a vendor's secret is unset and by the unit and end-to-end tests.
 */
export { startReturningStub } from './returning.ts'
export type { ReturningStub, ReturningStubOptions, ReturningMintedToken } from './returning.ts'
export { startReturningSdkStub } from './returning-sdk.ts'
export type {
  ReturningSdkStub,
  ReturningSdkStubOptions,
  ReturningSdkMintedToken,
  ReturningSdkValidation,
} from './returning-sdk.ts'
export { startCarameloStub } from './caramelo.ts'
export type { CarameloStub, CarameloStubOptions, CarameloMintedToken, CarameloSocketAttempt } from './caramelo.ts'
export type { ReceivedRequest, StubAnswer } from './http.ts'
export type { Hold } from './hold.ts'
export { LOCAL_VENDORS } from './local.ts'
export type { LocalVendor, LocalVendorOptions, LocalVendorStarter } from './local.ts'
export type { StubWitness, TokenHolder, TokenShape, TokenUse, WitnessEntry, WitnessedToken } from './witness.ts'
