using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.Ingestion.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class RetentionIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_webhook_receipts_received_at",
                table: "webhook_receipts",
                column: "received_at");

            migrationBuilder.CreateIndex(
                name: "ix_command_receipts_accepted_at",
                table: "command_receipts",
                column: "accepted_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_webhook_receipts_received_at",
                table: "webhook_receipts");

            migrationBuilder.DropIndex(
                name: "ix_command_receipts_accepted_at",
                table: "command_receipts");
        }
    }
}
