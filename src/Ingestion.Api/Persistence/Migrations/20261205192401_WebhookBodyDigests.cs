using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.Ingestion.Api.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class WebhookBodyDigests : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "webhook_body_digests",
                columns: table => new
                {
                    source = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    body_sha256 = table.Column<byte[]>(type: "bytea", nullable: false),
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    received_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_webhook_body_digests", x => new { x.source, x.body_sha256 });
                });

            migrationBuilder.CreateIndex(
                name: "ix_webhook_body_digests_received_at",
                table: "webhook_body_digests",
                column: "received_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "webhook_body_digests");
        }
    }
}
