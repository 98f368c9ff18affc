// Every signup spec file names the same contracts, the state machine and MassTransit: once here, not four times.
global using EventBackbone.Contracts.Notifications;
global using EventBackbone.Contracts.Signups;
global using EventBackbone.Contracts.Users;
global using EventBackbone.Sagas.Signups;
global using MassTransit;
global using Xunit;
