using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.DeadLetters.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class InputAddressMismatch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "input_address_mismatch",
                table: "dead_letters",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "input_address_mismatch",
                table: "dead_letters");
        }
    }
}
