using EventBackbone.Contracts.Signups;
using EventBackbone.DeadLetters.Replay;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// A dead letter's message type comes from its envelope, which anyone who may publish on the vhost writes: it may
/// name only a contract, never an arbitrary type of the process (which edit-and-replay would then construct from the
/// operator's JSON).
/// </summary>
[Trait("Tier", "Fast")]
public sealed class ContractTypesSpecs
{
    [Fact]
    public void A_contract_of_the_contracts_package_is_resolved_from_its_message_urn() =>
        Assert.Equal(typeof(SignupRequested), ContractTypes.Resolve("urn:message:EventBackbone.Contracts.Signups:SignupRequested"));

    [Fact]
    public void A_record_of_a_host_of_its_own_is_resolved_as_its_contract() =>
        Assert.Equal(typeof(OwnContract), ContractTypes.Resolve($"urn:message:{typeof(OwnContract).Namespace}:{nameof(OwnContract)}"));

    [Theory]
    [InlineData("urn:message:System.IO:FileInfo")]
    [InlineData("urn:message:System:AppDomainSetup")]
    [InlineData("System.Text.StringBuilder")]
    [InlineData("urn:message:Microsoft.Extensions.Logging:LoggerFactory")]
    [InlineData("urn:message:EventBackbone.DeadLetters.Tests:ContractTypesSpecs")]
    public void A_type_that_is_not_a_contract_record_is_not_resolved(string messageType) =>
        Assert.Null(ContractTypes.Resolve(messageType));
}

public sealed record OwnContract(Guid OrderId, string Customer);
