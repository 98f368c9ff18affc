using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.Ingestion.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class WebhookDedupe : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "dedupe_key",
                table: "webhook_receipts",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ux_webhook_receipts_source_dedupe_key",
                table: "webhook_receipts",
                columns: new[] { "source", "dedupe_key" },
                unique: true,
                filter: "dedupe_key IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ux_webhook_receipts_source_dedupe_key",
                table: "webhook_receipts");

            migrationBuilder.DropColumn(
                name: "dedupe_key",
                table: "webhook_receipts");
        }
    }
}
